# The bridge (and, with another command, the sample backend): `npm start` runs src/main.ts with tsx.
FROM node:20-slim

WORKDIR /app
# tsx, which runs the TypeScript, is a runtime dependency: no build step.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --chown=node:node tsconfig.json ./
COPY --chown=node:node src ./src
# The .proto files the bridge loads at start (protos/README.md).
COPY --chown=node:node protos ./protos

USER node
ENV CONSUL_HTTP_ADDR=127.0.0.1:8500
# 5000: shim and status (HTTP); 18000: xDS (gRPC).
EXPOSE 5000 18000
CMD ["npm", "start"]
