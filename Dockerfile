# One image, two commands: the worker and the API (starter).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./worker ./starter && mkdir /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# A named volume mounted here takes this ownership, so the nonroot user can write.
COPY --from=build --chown=nonroot:nonroot /data /data
ENTRYPOINT ["/usr/local/bin/starter"]
