import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Registered on the dev server by the dev stack; production clusters register
// them once with `temporal operator search-attribute create` (README).
export const ClusterAttribute = defineSearchAttributeKey('RabbitvaultCluster', SearchAttributeType.KEYWORD);
export const ComponentAttribute = defineSearchAttributeKey('RabbitvaultComponent', SearchAttributeType.KEYWORD);
export const searchAttributeNames = [ClusterAttribute.name, ComponentAttribute.name];
