# The native harness image (harness "llmdbench"): the plugin as the load generator, busybox for
# the launcher's POSIX run script, a non-root user. Without a container engine, `make image`
# builds the same image as a `docker save` archive.
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/llmdbench/kubectl-llmdbench:v0.1.0 .
FROM golang:1.26 AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kubectl-llmdbench ./cmd/kubectl-llmdbench

FROM busybox:1.37-musl
COPY --from=build /out/kubectl-llmdbench /usr/local/bin/kubectl-llmdbench
RUN mkdir -p /workspace /home/nonroot && chown 65532:65532 /workspace /home/nonroot && \
    echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh' >>/etc/passwd
USER 65532:65532
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/kubectl-llmdbench"]
