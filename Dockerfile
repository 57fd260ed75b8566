# syntax=docker/dockerfile:1

# ---- build: full dependency tree, compile TypeScript into dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Manifests first so the dependency layer is cached until they change.
# --ignore-scripts: `prepare` would run the build before the sources are copied in.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY domain ./domain
COPY adapters ./adapters
COPY worker ./worker
COPY scripts ./scripts
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

COPY --chown=node:node package.json package-lock.json ./
# No build step here, so no lifecycle scripts are needed (`prepare` would call tsc, absent in prod).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# dist/ also holds package.json: worker/cli.ts imports it for --version.
COPY --from=build --chown=node:node /app/dist ./dist

USER node
EXPOSE 8080

# Slim images carry no curl; Node 24 has fetch. Any failure (refused, timeout, non-2xx) exits 1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || '8080') + '/healthz', { signal: AbortSignal.timeout(4000) }).then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]

# No tini: node runs as PID 1 and the worker installs its own SIGTERM/SIGINT handlers for a
# graceful drain (PID 1 gets no default signal handling, so those handlers are required), and it
# spawns no child processes that would need reaping.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/worker/cli.js"]
CMD ["run"]
