import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ReadCache } from '../../src/api/readCache.js'

function cacheOver (max = 10): { cache: ReadCache<string>, setMark: (m: string | null) => void, computed: string[] } {
  let mark: string | null = 'm1'
  const cache = new ReadCache<string>(async () => mark, max)
  return { cache, setMark: m => { mark = m }, computed: [] }
}

test('a value is reused while the mark holds and recomputed once it moves', async () => {
  const { cache, setMark, computed } = cacheOver()
  const get = async (v: string): Promise<string> => await cache.getOrCompute('k', 0, 1000, async () => { computed.push(v); return v })
  assert.equal(await get('a'), 'a')
  assert.equal(await get('b'), 'a')
  setMark('m2')
  assert.equal(await get('c'), 'c')
  assert.equal(await get('d'), 'c')
  assert.deepEqual(computed, ['a', 'c'])
})

test('a value is not kept when the mark moved while it was computed', async () => {
  const { cache, setMark } = cacheOver()
  assert.equal(await cache.getOrCompute('k', 0, 1000, async () => { setMark('m2'); return 'stale' }), 'stale')
  assert.equal(await cache.getOrCompute('k', 0, 1000, async () => 'fresh'), 'fresh')
  assert.equal(await cache.getOrCompute('k', 0, 1000, async () => 'again'), 'fresh')
})

test('a mark taken earlier by the caller is the one the value is kept under', async () => {
  const { cache, setMark } = cacheOver()
  await cache.getOrCompute('k', 0, 1000, async () => 'v1', 'm1')
  setMark('m2')
  // The caller's mark is older than the store's: the value computed now is not kept under it.
  assert.equal(await cache.getOrCompute('j', 0, 1000, async () => 'v2', 'm1'), 'v2')
  assert.equal(await cache.getOrCompute('j', 0, 1000, async () => 'v3'), 'v3')
})

test('no mark, no reuse', async () => {
  const { cache, setMark } = cacheOver()
  setMark(null)
  await cache.getOrCompute('k', 0, 1000, async () => 'a')
  assert.equal(await cache.getOrCompute('k', 0, 1000, async () => 'b'), 'b')
  assert.equal(cache.size, 0)
})

test('values expire after their time to live, by the caller\'s clock', async () => {
  const { cache } = cacheOver()
  await cache.getOrCompute('k', 1000, 500, async () => 'a')
  assert.equal(await cache.getOrCompute('k', 1499, 500, async () => 'b'), 'a')
  assert.equal(await cache.getOrCompute('k', 1500, 500, async () => 'c'), 'c')
})

test('a failed computation keeps nothing; the oldest value goes when the cache is full', async () => {
  const { cache } = cacheOver(2)
  await assert.rejects(cache.getOrCompute('k', 0, 1000, async () => { throw new Error('no') }), /no/)
  assert.equal(cache.size, 0)
  for (const k of ['a', 'b', 'c']) await cache.getOrCompute(k, 0, 1000, async () => k)
  assert.equal(cache.size, 2)
  assert.equal(await cache.getOrCompute('a', 0, 1000, async () => 'a2'), 'a2')
  assert.equal(await cache.getOrCompute('c', 0, 1000, async () => 'c2'), 'c')
})

test('the budget bounds the weight kept: heavy values push out the oldest, one heavier than the budget is not kept', async () => {
  const cache = new ReadCache<string>(async () => 'm', 10, (_k, v) => v.length)
  for (const v of ['aaaa', 'bbbb', 'cccc']) await cache.getOrCompute(v, 0, 1000, async () => v)
  assert.deepEqual([cache.size, cache.weight], [2, 8])
  assert.equal(await cache.getOrCompute('aaaa', 0, 1000, async () => 'AAAA'), 'AAAA', 'the oldest went first')
  await cache.getOrCompute('huge', 0, 1000, async () => 'x'.repeat(11))
  assert.equal(await cache.getOrCompute('huge', 0, 1000, async () => 'again'), 'again')
  assert.ok(cache.weight <= 10)
  await cache.getOrCompute('cccc', 0, 1000, async () => 'cccc2')
  assert.equal(await cache.getOrCompute('cccc', 0, 1000, async () => 'cccc3'), 'cccc2')
  assert.ok(cache.weight <= 10)
})
