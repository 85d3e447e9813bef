import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDefinitions } from '../lib/definitions/model';
import { LIST_CAP, planRestore } from '../lib/definitions/plan';

const q = (name: string, args: Record<string, unknown> = {}) => ({ name, vhost: '/', durable: true, auto_delete: false, arguments: args });

describe('restore plan', () => {
  test('sorts every entity into create, identical, update or conflict', () => {
    const backup = {
      users: [{ name: 'app', password_hash: 'h1', hashing_algorithm: 'sha256', tags: 'monitoring,management' }],
      queues: [q('new'), q('same', { 'x-max-length': 10 }), q('differs', { 'x-max-length': 10 })],
      policies: [{ vhost: '/', name: 'ttl', pattern: '.*', definition: { 'message-ttl': 1 } }],
    };
    const target = {
      users: [{ name: 'app', password_hash: 'h1', hashing_algorithm: 'sha256', tags: ['management', 'monitoring'], limits: {} }],
      queues: [q('same', { 'x-max-length': 10 }), q('differs', { 'x-max-length': 99 })],
      policies: [{ vhost: '/', name: 'ttl', pattern: '.*', definition: { 'message-ttl': 2 } }],
    };
    const plan = planRestore(backup, target);
    assert.deepEqual(plan.counts.users, { create: 0, identical: 1, update: 0, conflict: 0 }, 'tag string vs list is the same');
    assert.deepEqual(plan.counts.queues, { create: 1, identical: 1, update: 0, conflict: 1 });
    assert.deepEqual(plan.counts.policies, { create: 0, identical: 0, update: 1, conflict: 0 }, 'import overwrites policies');
    assert.deepEqual(plan.conflicts, [{ entity: 'queue vhost=/ name=differs', fields: ['arguments'] }]);
    assert.deepEqual(plan.update, [{ entity: 'policy vhost=/ name=ttl', fields: ['definition'] }]);
    assert.deepEqual(plan.create, ['queue vhost=/ name=new']);
  });

  test('bindings are identified by all their fields, so they are created or identical', () => {
    const b = (rk: string) => ({ source: 'x', vhost: '/', destination: 'q', destination_type: 'queue', routing_key: rk, arguments: {} });
    const plan = planRestore({ bindings: [b('a'), b('b')] }, { bindings: [b('a')] });
    assert.deepEqual(plan.counts.bindings, { create: 1, identical: 1, update: 0, conflict: 0 });
  });

  test('lists are capped but counts stay exact', () => {
    const many = Array.from({ length: LIST_CAP.create + 25 }, (_, i) => q(`q${i}`));
    const plan = planRestore({ queues: many }, { queues: [] });
    assert.equal(plan.totals.create, many.length);
    assert.equal(plan.create.length, LIST_CAP.create);
    assert.equal(plan.truncated, true);
  });

  test('a definitions file is checked for JSON, its required keys and list shapes', () => {
    assert.throws(() => parseDefinitions(Buffer.from('{'), 'f.json', true), /f\.json: not valid JSON/);
    assert.throws(() => parseDefinitions(Buffer.from('{"users":[]}'), 'f.json', true), /missing required keys vhosts, permissions, queues, exchanges, bindings/);
    assert.throws(() => parseDefinitions(Buffer.from('{"queues":{}}'), 'f.json', false), /"queues" must be a list of objects/);
    assert.doesNotThrow(() => parseDefinitions(Buffer.from('{"queues":[]}'), 'f.json', false));
  });
});
