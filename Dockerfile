# Gatehouse gateway image.
#
#   docker build -t gatehouse .
#   docker run -e AUTH_JWT_SECRET=... -e ADMIN_TOKEN=... -e DATABASE_URL=... -e REDIS_URL=... \
#     -p 3000:3000 gatehouse
#
# The app runs TypeScript directly through tsx (a runtime dependency), so there is no compile
# stage: the image is node_modules + src/ + the generated Prisma client.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, in their own layer, so editing src/ does not reinstall them.
# The root postinstall (scripts/prisma-generate.mjs) needs the `prisma` dev dependency and
# prisma/schema.prisma to generate src/generated/prisma, hence scripts/ and prisma/ are copied
# before `npm ci` and dev dependencies are installed (NODE_ENV is not production yet).
COPY package.json package-lock.json ./
COPY scripts/ ./scripts/
COPY prisma/ ./prisma/
# --ignore-scripts: no dependency needs its install script (esbuild works from its platform
# package; @prisma/engines would only try to download engines we never use, since the client
# runs through driver adapters). It also makes npm 10 (in this image) behave like the npm 11
# used in development, which skips them. The one script we need, the root postinstall, is then
# run explicitly. Dev dependencies are pruned afterwards, in the same layer so they never reach
# the image; the generated client stays in src/generated/prisma.
RUN npm ci --ignore-scripts --include=dev --no-audit --no-fund \
 && npm run prisma:generate \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# The application: src/, openapi/ and tsconfig.json (tsx reads it). `COPY . .` rather than
# naming each directory because .dockerignore is an allow-list: it admits exactly these, keeps
# out node_modules/ and the host's src/generated/ (which would overwrite the client generated
# above), and does not fail when an optional directory is absent.
COPY . .

# Code stays owned by root (read-only for the app). The node user only gets data/, where the
# embedded PGlite database lives when DATABASE_URL is unset.
RUN mkdir -p data && chown node:node data

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

USER node
EXPOSE 3000

# Node's built-in fetch: slim images have no curl or wget. /health/live is the liveness probe:
# it only says the process serves HTTP. PORT is honoured if overridden.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# server.ts drains on SIGTERM (503 to new upgrades, closes sessions, flushes logouts); compose
# gives it stop_grace_period to do so before SIGKILL.
STOPSIGNAL SIGTERM

# Same as `npm start` (tsx src/server.ts), but node is PID 1 itself: no npm and no tsx CLI
# wrapper process in between that could swallow or delay SIGTERM.
CMD ["node", "--import", "tsx", "src/server.ts"]
