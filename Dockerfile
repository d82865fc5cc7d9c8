# sessiond: build with dev dependencies, run with production dependencies only, as a non-root user.
# The build is CI's: `npm ci`, whose prepare step runs `npm run build` (tsc).
# Node 24: the active LTS line (maintained until April 2028); Node 20 reached end of life in April 2026.
FROM node:24-bookworm-slim AS build
# A C compiler for the session keeper and its launcher (src/process/keeper.c, launcher.c); the runtime stage needs only their binaries.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY schemas ./schemas
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm ci

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    SESSIOND_HOST=0.0.0.0 \
    SESSIOND_PORT=7070 \
    SESSIOND_DATA_DIR=/data \
    SESSIOND_WORKSPACE_ROOTS=/workspace
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare step (tsc) needs dev dependencies; dist/ comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY examples ./examples
# `docker exec <container> sessiond ls`: the command finds the service and its token file by the same settings.
RUN ln -s /app/dist/src/cli/main.js /usr/local/bin/sessiond
RUN groupadd --system sessiond \
 && useradd --system --gid sessiond --home-dir /home/sessiond --create-home sessiond \
 && mkdir -p /data /workspace \
 && chown sessiond:sessiond /data /workspace
USER sessiond
VOLUME ["/data"]
EXPOSE 7070
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SESSIOND_PORT||7070)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["npm", "start"]
