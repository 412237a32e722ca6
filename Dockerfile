# The bridge (and, with another command, the sample backend) as compiled JavaScript.
#
#   docker build -t consul-xds-bridge .
#   docker run --rm -p 127.0.0.1:5000:5000 -p 18000:18000 -e CONSUL_HTTP_ADDR=consul:8500 \
#     -e BRIDGE_HTTP_HOST=0.0.0.0 consul-xds-bridge
#
# `node` is the container's first process (PID 1), with no npm or shell in between: the
# runtime's SIGTERM reaches the bridge itself, which installs its own SIGTERM/SIGINT handlers and
# stops gracefully (shim calls finish, xDS streams end with status OK, exit 0). No init (tini)
# is needed: the bridge starts no child processes, so there are no zombies to reap.

# Build stage: every dependency, then `npm run build` (tsc to dist/, the status page copied).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies, the compiled code, the .proto files it loads at start.
FROM node:20-slim
ENV NODE_ENV=production
# The heap budget (docs/operations.md, "Memory"): under it V8 collects before the garbage piles
# up (at 75,000 instances under churn, heap in use at most ≈ 1.6 × the live data, against ≈ 3 ×
# with Node's default), which bounds the bridge's RSS. The live data is ≈ 2 KB per Consul
# instance: raise it (`docker run -e NODE_OPTIONS=...`) from ≈ 300,000 instances. The benchmark
# runs the bridge with these same options. xDS workers run with at least 2 GB: the budget bounds
# the catalog the primary holds, and under it a worker's fan-out costs more CPU (same section).
ENV NODE_OPTIONS=--max-old-space-size=1024
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# package.json's `bin`: `npx consul-xds-bridge --help` runs dist/main.js here (no src/).
COPY bin ./bin
# The bridge finds protos/ and package.json (its version) from dist/, one level up.
COPY protos ./protos

USER node
ENV CONSUL_HTTP_ADDR=127.0.0.1:8500
# 5000: shim, status page, /metrics (HTTP; bound to 127.0.0.1 unless BRIDGE_HTTP_HOST is set);
# 18000: xDS (gRPC).
EXPOSE 5000 18000
# No curl in slim images: node itself asks /healthz on the port the bridge was given.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BRIDGE_HTTP_PORT || 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
