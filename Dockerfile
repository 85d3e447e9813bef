# The rabbitvault Temporal worker. TypeScript runs through tsx (a runtime
# dependency), so there is no build step and the image holds the sources.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY common ./common
COPY config ./config
COPY activities ./activities
COPY workflows ./workflows
COPY workers ./workers
COPY scripts ./scripts

# The local storage target; created here so a fresh named volume mounted on it
# takes this ownership and the non-root user can write backups.
RUN mkdir -p /var/lib/rabbitvault/backups && chown -R node:node /var/lib/rabbitvault

USER node

CMD ["node", "--import", "tsx", "workers/main.ts"]
