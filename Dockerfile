# Atlas Broker container image.
#   build:   compile the TypeScript (all dependencies; `npm run build` also turns the schemas into plain data
#            and writes the route schemas' compiled code beside them)
#   runtime: production dependencies and the compiled JavaScript only, as the unprivileged `node` user
# Policies: the image ships policies/ (README and examples, nothing enabled); mount your own folder over
# /app/policies (or point POLICIES_DIR elsewhere). .ts policy files load at start-up, no build step.
# The Node version CI also tests on (.node-version): keep the two equal (a test checks).
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build.ts scripts/freeze-schemas.ts scripts/precompile-schemas.ts ./scripts/
RUN npm run build

FROM node:${NODE_VERSION}-slim AS runtime
# NODE_OPTIONS: V8's young generation capped at 4 MB semi-spaces (Node's default grows them to 16 MB): the
# broker's requests allocate little, so this keeps about 20 MB off its resident memory under load at no
# measured cost in throughput (`npm run bench` runs the broker with this value). Override it like any ENV.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=4 \
    HOST=0.0.0.0 \
    PORT=8080 \
    POLICIES_DIR=/app/policies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY policies ./policies
USER node
EXPOSE 8080
STOPSIGNAL SIGTERM
# Node is PID 1 and handles SIGTERM itself (stop accepting, finish in-flight requests, close storage);
# the broker starts no child processes, so no init is needed to reap them.
# Node flags placed here are the ones `npm run bench` and the packaging test run the broker with too (NODE_OPTIONS
# does not take V8 flags such as these). --liftoff-only: V8 keeps undici's HTTP parser (WebAssembly) at its
# baseline compiler; otherwise it recompiles it with its optimizing compiler right after the first Atlas exchange
# (about 24 MB of compiler memory on Node 24, of which malloc keeps 10 MB), so an idle broker holds 10 MB less,
# and an Atlas call costs the same CPU (measured: no difference within noise). The broker runs no other WebAssembly.
# --expose-gc: the broker gives memory back when it goes quiet, with one collection V8's own memory reducer does
# not make on an idle process (src/app/idle-collection.ts; idle 90 -> 79 MB on Node 24). Without the flag it
# does not, and nothing else changes.
ENTRYPOINT ["node", "--liftoff-only", "--expose-gc", "dist/app/main.js"]
