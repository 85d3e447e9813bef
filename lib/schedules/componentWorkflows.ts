import { Component } from '../../common/names';
import type { RabbitvaultConfig } from '../../config/schema';
import type { WorkflowName } from '../../contracts';
import { ConfigurationWorkflow } from '../../contracts/configuration';
import { DataDirectoryWorkflow } from '../../contracts/dataDirectory';
import { DefinitionsWorkflow } from '../../contracts/definitions';
import { MessagesWorkflow } from '../../contracts/messages';
import { VolumeSnapshotWorkflow } from '../../contracts/volumeSnapshot';

// Workflows that back up and restore each component; config (componentWorkflows) may plug in others.
const BUILT_IN_COMPONENT_WORKFLOWS: Record<Component, { backup: WorkflowName; restore?: WorkflowName; restoreInput?: Record<string, unknown> }> = {
  // A test restore or drill target may already hold some of the entities: keep them and prove the rest.
  definitions: { backup: DefinitionsWorkflow.backup, restore: DefinitionsWorkflow.restore, restoreInput: { onConflict: 'keep-target' } },
  messages: { backup: MessagesWorkflow.backup, restore: MessagesWorkflow.restore },
  // Restoring a data directory stops the target's nodes: validation and drills use it only when
  // componentWorkflows["data-directory"].restore says so.
  'data-directory': { backup: DataDirectoryWorkflow.backup },
  // Restoring configuration rewrites files on the nodes (and restarts them with restart: true): likewise only by config.
  configuration: { backup: ConfigurationWorkflow.backup },
  // The snapshots stay in the cluster; restoring them replaces the PVCs: never a test restore.
  'volume-snapshot': { backup: VolumeSnapshotWorkflow.backup },
};

export interface ComponentWorkflow {
  backup: string;
  restore?: string;
  restoreInput: Record<string, unknown>;
}

// Built-in workflows per component, overridden field by field by componentWorkflows in the config.
export function componentWorkflow(config: RabbitvaultConfig, component: Component): ComponentWorkflow {
  const builtIn = BUILT_IN_COMPONENT_WORKFLOWS[component];
  const configured = config.componentWorkflows[component] ?? {};
  return {
    backup: configured.backup ?? builtIn.backup,
    restore: configured.restore ?? builtIn.restore,
    restoreInput: { ...builtIn.restoreInput, ...configured.restoreInput },
  };
}

export function restoreWorkflowTypes(config: RabbitvaultConfig): Map<string, Component> {
  const types = new Map<string, Component>();
  for (const component of Component.options) {
    const restore = componentWorkflow(config, component).restore;
    if (restore) types.set(restore, component);
  }
  return types;
}
