# Gatehouse gateway image: compiled JavaScript on Node 24 LTS, production dependencies only,
# running as the unprivileged `node` user.
#
#   docker build -t gatehouse .
#   docker run -e AUTH_JWT_SECRET=... -e ADMIN_TOKEN=... -e DATABASE_URL=... -e REDIS_URL=... \
#     -p 3000:3000 gatehouse
#
# NODE_ENV=production refuses to start without DATABASE_URL and REDIS_URL (a container that lost
# its settings must not run on a private embedded database); GATEHOUSE_EMBEDDED=1 allows it.

# ---- build: dev dependencies, the generated Prisma client, tsc to dist/ ----------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/ ./scripts/
COPY prisma/ ./prisma/
# The client SDK is a workspace of the root package: its manifest and build script come first.
COPY packages/client/package.json packages/client/build.mjs packages/client/tsconfig.json ./packages/client/
# --ignore-scripts: no dependency needs its install script (esbuild works from its platform
# package; @prisma/engines would only try to download engines we never use, since the client
# runs through driver adapters). Optional dependencies stay: TypeScript's compiler and esbuild
# come as optional platform packages (the node-linux-* ones, for machines with an older Node,
# come along and never reach the runtime stage).
RUN npm ci --ignore-scripts --include=dev --no-audit --no-fund \
 && npm run prisma:generate
COPY tsconfig.json tsconfig.build.json ./
COPY src/ ./src/
RUN npm run build

# ---- runtime: production dependencies + dist/ + migrations ---------------------------------
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
COPY package.json package-lock.json ./
# --omit=optional: the image has Node 24 already; no production dependency needs an optional
# package (checked by running dist/ on a `npm ci --omit=dev --omit=optional` tree).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
# dist/ resolves package.json, prisma/migrations and the SDK's browser build (served at
# /client.js) relative to itself (one level up).
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY prisma/migrations ./prisma/migrations
# Code stays owned by root (read-only for the app). The node user only gets data/, where the
# embedded database would live if GATEHOUSE_EMBEDDED=1 is set without DATABASE_URL.
RUN mkdir -p data && chown node:node data

USER node
EXPOSE 3000

# Node's built-in fetch: slim images have no curl or wget. /health/live is the liveness probe:
# it only says the process serves HTTP. PORT is honoured if overridden.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The server drains on SIGTERM (503 to new upgrades, closes sessions, flushes logouts);
# compose's stop_grace_period and Kubernetes' terminationGracePeriodSeconds give it the time.
STOPSIGNAL SIGTERM

# node is PID 1 itself: no npm wrapper in between that could swallow or delay SIGTERM.
CMD ["node", "dist/server.js"]
