#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error';
import { registerCheckCommand } from './commands/check';
import { registerEvaluateCommand } from './commands/evaluate';
import { registerMigratePinsCommand } from './commands/migrate-pins';
import { registerModelFetchCommand } from './commands/model-fetch';
import { registerPromoteCommand } from './commands/promote';
import { registerRegisterCommand } from './commands/register';
import { registerRollbackCommand } from './commands/rollback';
import { registerRolloutStatusCommand } from './commands/rollout-status';
import { registerSmokeCommand } from './commands/smoke';
import { registerRelayCommand } from './relay/command';

/** Builds the `model-gitops` program with every command registered; never parses or exits by itself. */
export function buildProgram(): Command {
  const program = new Command('model-gitops')
    .description(
      'Promote image-classification models from the MLflow Model Registry to GitOps-deployed Kubernetes',
    )
    .showHelpAfterError('(add --help for usage)');
  registerModelFetchCommand(program);
  registerRegisterCommand(program);
  registerPromoteCommand(program);
  registerRollbackCommand(program);
  registerRolloutStatusCommand(program);
  registerCheckCommand(program);
  registerEvaluateCommand(program);
  registerSmokeCommand(program);
  registerMigratePinsCommand(program);
  registerRelayCommand(program);
  return program;
}

/** Parses `argv`, runs the command and returns the exit code; errors become one clear line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
