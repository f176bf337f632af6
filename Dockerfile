# syntax=docker/dockerfile:1
# One image for every service: the entrypoint is the `tickwise` CLI, so a container runs
# `tickwise scheduler`, `planner`, `gateway`, `analytics` or the one-shot `migrate` by its command.
#   docker build -t tickwise .
#   docker run --rm -e DATABASE_URL=... tickwise migrate
ARG NODE_IMAGE=node:20-bookworm-slim

# Build: every dependency (dev ones too: esbuild builds the visualizer), then the visualizer, then
# the dev dependencies pruned so the runtime stage copies production ones only.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY . .
# --ignore-scripts: install scripts would run before every source is in place; the one build step
# they hold (the visualizer) runs explicitly below, and esbuild works from its optional binary package.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts \
 && node services/gateway/scripts/build-ui.mjs \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf /root/.cache

# Runtime: Node, the sources (run by tsx, a production dependency: no compile step), production
# dependencies and the built visualizer; owned by root and run as the unprivileged `node` user,
# so the process cannot change its own code.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    TICKWISE_LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app /app
USER node
# 8080: the gateway (API, /ui, probes); 9090: the ops port of scheduler, planner and analytics.
EXPOSE 8080 9090
ENTRYPOINT ["node", "bin/tickwise.mjs"]
CMD ["--help"]
