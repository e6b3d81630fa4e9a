# minilb container image: the NativeAOT binary on Ubuntu's chiseled runtime-deps base (libc, OpenSSL for the
# API server's TLS, CA certificates, no shell, no package manager). Build with `make image-docker`.
# For machines with Docker (or podman) and access to mcr.microsoft.com. Without either, `make image` builds the
# equivalent image from the locally published binary and pinned Debian packages (image/build.sh, docs/building.md);
# that is the image the project's container tests run.

# Build stage: the same `dotnet publish` as `make publish`.
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
# NativeAOT links with clang (driving GNU ld from binutils).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Restore first, from the project files only, so the package layer survives source edits.
COPY Directory.Build.props Directory.Packages.props VERSION ./
COPY Operator/Operator.csproj Operator/
RUN dotnet restore Operator -r linux-x64 -p:PublishAot=true
COPY Operator/ Operator/
RUN dotnet publish Operator -c Release -r linux-x64 -p:PublishAot=true --no-restore -o /out

# Runtime stage.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
# The repository's VERSION (`make image-docker` passes it), as `make image` labels its image.
ARG VERSION=unknown
LABEL org.opencontainers.image.title=minilb org.opencontainers.image.version=$VERSION org.opencontainers.image.licenses=Apache-2.0
COPY --from=build /out/minilb /usr/local/bin/minilb
# Non-root, matching the chart's runAsUser. The binary needs no writable path.
USER 65532:65532
ENV DOTNET_EnableDiagnostics=0
# DNS (the MiniLbConfig's listen port, 5353 in the chart) and /healthz, /readyz, /metrics.
EXPOSE 5353/udp 5353/tcp 8080/tcp
ENTRYPOINT ["/usr/local/bin/minilb"]
CMD ["--help"]
