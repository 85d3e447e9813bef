import { ConfigError, loadConfig } from '../../config/load';
import { parseFlags, UsageError } from '../args';
import type { CliContext } from '../context';

export function configCheckCommand(ctx: Pick<CliContext, 'out' | 'err'>, argv: string[]): number {
  const { values, positionals } = parseFlags(argv, {}, 'usage: rabbitvault config check [--config FILE]');
  if (positionals[0] !== 'check') throw new UsageError('usage: rabbitvault config check [--config FILE]');
  try {
    const { config, source } = loadConfig(values.config);
    ctx.out(
      `config OK: ${source} (${Object.keys(config.clusters).length} cluster(s): ${Object.keys(config.clusters).join(', ')}; storage: ${Object.keys(config.storage.targets).join(', ')}, default ${config.storage.default}; Temporal ${config.temporal.address}, task queue ${config.temporal.taskQueue})`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    ctx.err(error.message);
    return 1;
  }
}
