# The rabbitvault Temporal worker, as it runs in production: TypeScript compiled
# to dist/ and the workflow code bundled once, at image build time
# (scripts/setup/build-worker.mjs); the sources are there only for the operator CLI.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY contracts ./contracts
COPY common ./common
COPY config ./config
COPY lib ./lib
COPY activities ./activities
COPY workflows ./workflows
COPY workers ./workers
COPY scripts/setup ./scripts/setup
RUN node scripts/setup/build-worker.mjs

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The operator CLI's sources (cli/rabbitvault.sh runs them through tsx) and
# the worker's launcher; no dev stack (scripts/) and no test code.
COPY tsconfig.json ./
COPY cli ./cli
COPY contracts ./contracts
COPY common ./common
COPY config ./config
COPY lib ./lib
COPY workers ./workers

# The local storage target; created here so a fresh named volume mounted on it
# takes this ownership and the non-root user can write backups.
RUN mkdir -p /var/lib/rabbitvault/backups && chown -R node:node /var/lib/rabbitvault

USER node

# workers/worker.sh: the worker with its memory settings (see the script).
CMD ["workers/worker.sh"]
