import type { RabbitvaultConfig } from '../config/schema';

export interface CliContext {
  config: RabbitvaultConfig;
  configSource: string;
  out: (line: string) => void;
  err: (line: string) => void;
}
