// The memory settings workers/worker.sh starts the worker with, as this process
// actually got them: printed at start-up, so an operator who launches
// dist/workers/main.js some other way sees what is missing.
export function memorySettingsLine(env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): string {
  const arenas = env.MALLOC_ARENA_MAX;
  const flags = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  const youngGeneration = flags.find((flag) => flag.startsWith('--max-semi-space-size'));
  if (arenas && youngGeneration) return `memory settings: MALLOC_ARENA_MAX=${arenas} ${youngGeneration}`;
  const missing = [arenas ? undefined : 'MALLOC_ARENA_MAX', youngGeneration ? undefined : '--max-semi-space-size'].filter(Boolean).join(' and ');
  return `memory settings: ${missing} not set (start the worker with workers/worker.sh; without them it peaks about 50 MiB higher under message load)`;
}
