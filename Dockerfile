# Stream, CPU build. Build context: the repository root (models/ must exist: run scripts/setup.sh --no-build first).
FROM mcr.microsoft.com/dotnet/sdk:10.0-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev pkg-config \
        libavformat-dev libavcodec-dev libavutil-dev libswscale-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props Streaming.sln ./
# The in-process file decoder (Ingest:FileDecoder=Libav) against Debian 12's FFmpeg, the same as the runtime image's.
COPY native/streamdec.c native/streamclip.c native/streamdec.h native/build.sh native/
RUN bash native/build.sh
COPY src/ src/
RUN dotnet publish src/Stream.App/Stream.App.csproj -c Release -o /app -p:OnnxRuntimeFlavor=Cpu

FROM mcr.microsoft.com/dotnet/aspnet:10.0-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg libgtk-3-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
COPY models/ /app/models/
COPY config/ /app/config/
ENV STREAM_Http__Urls=http://0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/app/stream"]
CMD ["run", "--config", "/app/config/pipeline.json"]
