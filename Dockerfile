# rawhttp: a raw-socket HTTP/1.1 server. Two stages: the build stage compiles TypeScript
# with the dev dependencies; the runtime stage gets only the compiled code, the production
# dependencies and the document root, and runs as the unprivileged `node` user (uid and gid 1000).

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so the layer stays cached while only the sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# The server runs node and nothing else (CMD and HEALTHCHECK): npm, npx, corepack, yarn and
# node's C headers (for building addons) would only be more code in the container to exploit
# and for scanners to flag. They stay in the base image's layers, so the image is no smaller,
# but no container has them. rm -rf and globs: a base that lacks some or lays them out
# otherwise still builds.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn* \
      /opt/yarn-* /usr/local/include/node
# --disable-sigusr1: by default SIGUSR1 opens Node's inspector on 127.0.0.1:9229, a way to run
# code in the server for anything that shares the pod's loopback. An environment variable
# rather than a flag of the command, which npm start repeats: Node.js 22 has it from 22.14.
ENV NODE_ENV=production \
    NODE_OPTIONS=--disable-sigusr1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    ADMIN_HOST=0.0.0.0 \
    ADMIN_PORT=9090 \
    RESOURCES_DIR=/app/resources \
    UPLOADS_DIR=/app/resources/uploads \
    LOG_LEVEL=info
WORKDIR /app
# Code and documents stay owned by root: the server can read them, not change them.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY resources ./resources
# The uploads folder is the only writable place. It belongs to `node` and to group 0 before it
# becomes a volume, so a fresh named volume is created with that owner and mode. Group 0 may
# write too (setgid: what is created in it stays in group 0), as OpenShift's image guidelines
# ask: there the container runs as an arbitrary uid whose group is 0 (docs/deploy.md).
RUN mkdir -p /app/resources/uploads && chown node:0 /app/resources/uploads && chmod 2775 /app/resources/uploads
VOLUME ["/app/resources/uploads"]
# By number, not the name `node`: Kubernetes' runAsNonRoot cannot tell whether a name is root,
# and refuses to start a pod whose image names its user when the pod sets no runAsUser.
USER 1000:1000
EXPOSE 8080 9090
# The slim base has no curl or wget: Node's fetch asks the admin listener.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADMIN_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The server is PID 1 and handles SIGTERM itself (graceful drain, exit code 0): no npm or
# shell in between. --max-semi-space-size caps the main
# thread's young generation, which V8 otherwise grows many times over under load;
# --initial-old-space-size makes its first full collection come early instead of after tens of
# MiB of promoted garbage, and --heap-growing-percent sets the next one at 1.5 x what survived
# the last, where V8 picks up to 4 x: it keeps the pages it frees, so the highest the heap
# ever reached stays in the RSS (docs/memory.md). V8 flags can only be set before the
# heap exists, so here and not in code.
CMD ["node", "--max-semi-space-size=8", "--initial-old-space-size=16", "--heap-growing-percent=50", "dist/src/main.js"]
