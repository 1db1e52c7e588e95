import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nearPaths } from '../src/probe/http.js';

test('near paths of a 404: the other case of the last segment, lower case, the other endpoint prefix', () => {
  assert.deepEqual(nearPaths('/http/Orders'), ['/http/orders', '/cxf/Orders']);
  assert.deepEqual(nearPaths('/cxf/orders'), ['/cxf/Orders', '/http/orders']);
  assert.deepEqual(nearPaths('/api/v1/Items'), ['/api/v1/items']);
  assert.deepEqual(nearPaths('/'), []);
});
