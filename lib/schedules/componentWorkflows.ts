import { BUILT_IN_COMPONENT_WORKFLOWS } from '../../common/automationInputs';
import { Component } from '../../common/names';
import type { RabbitvaultConfig } from '../../config/schema';

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
