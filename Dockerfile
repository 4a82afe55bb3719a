# openfcs in a container. NOT TESTED: the machines this project is built
# and tested on have no container runtime. Kept minimal on purpose; see
# docs/operations.md#packaging.
#
#   docker build -t openfcs .
#   docker run -e OPENFCS_ADMIN_TOKEN=$(openssl rand -hex 32) \
#     -p 1935:1935 -p 8080:8080 -p 127.0.0.1:8086:8086 openfcs
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/openfcs ./cmd/openfcs

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/openfcs /usr/local/bin/openfcs
COPY --chown=nonroot:nonroot applications /var/lib/openfcs/applications
COPY openfcs.yaml /etc/openfcs/openfcs.yaml
WORKDIR /var/lib/openfcs
EXPOSE 1935 8080 8086
ENTRYPOINT ["/usr/local/bin/openfcs", "serve", "--config", "/etc/openfcs/openfcs.yaml"]
# The admin listener must leave the container's loopback to be published;
# publish it on the host's loopback only (above).
CMD ["--admin", "0.0.0.0:8086"]
