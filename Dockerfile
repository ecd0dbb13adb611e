# PostCert server image. The first stage installs the production dependencies (no dev
# dependencies, no npm cache), builds the server's JavaScript (bin/build.ts: Node's own type
# stripping, done once here so the running process does not load the stripper) and prepares the
# data directory; the second holds only what runs.
#   docker build -t postcert .
# test/platform/docker-layout.test.ts starts the server as this image would (layout, user,
# environment) on every CI run.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
# The PKCS#11 binding (the CA key on an HSM) is a native module: built here, only its result is copied.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
RUN node bin/build.ts
# The data directory, to be owned by the unprivileged user (a volume mounted there starts as a
# copy of it, ownership included).
RUN mkdir -p /staging/data

FROM node:24-bookworm-slim
ENV NODE_ENV=production
ENV DATA_DIR=/var/lib/postcert
# As npm start: two malloc arenas, not glibc's eight per core (about 15-20 MB less per process,
# no CPU cost measured; docs/sizing.md, Memory). `docker run -e MALLOC_ARENA_MAX=...` overrides it.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=dependencies /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY views ./views
COPY public ./public
COPY --from=dependencies --chown=node:node /staging/data /var/lib/postcert
VOLUME /var/lib/postcert
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# As npm start: the young generation's semi-spaces capped at 16 MB, and the old generation grown
# by half of what is live, run from dist/: about 200 MB per process after 10,000 logins instead
# of about 360 MB, for 5-10 % more CPU (docs/sizing.md, Memory).
CMD ["node", "--max-semi-space-size=16", "--heap-growing-percent=50", "dist/src/main.js"]
