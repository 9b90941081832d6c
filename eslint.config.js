import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import neostandard from 'neostandard'
import importX, { createNodeResolver } from 'eslint-plugin-import-x'

const root = import.meta.dirname

/** Every folder directly under src/, so a new folder is covered by the layering rule at once. */
const srcFolders = readdirSync(join(root, 'src'), { withFileTypes: true })
  .filter(e => e.isDirectory())
  .map(e => e.name)
const src = (...names) => names.map(n => `./src/${n}`)

/**
 * The layering rule of STYLE.md ("only the composition root imports an adapter"):
 * - src/domain is pure: it imports nothing from any other src/ folder;
 * - code outside src/cli (and outside the adapters themselves) never imports a concrete store
 *   adapter (src/store/sqlite, src/store/postgres): it goes through src/store/store.ts;
 * - nothing imports src/cli (bin/truedy.js, the launcher, is the one exception).
 */
const layering = [
  {
    target: './src/domain',
    from: src(...srcFolders.filter(n => n !== 'domain')),
    message: 'src/domain is pure: it imports nothing from other src/ folders.'
  },
  {
    target: [
      ...src(...srcFolders.filter(n => !['cli', 'store', 'domain'].includes(n))),
      './src/store/ops',
      './src/store/migrations'
    ],
    from: src('store/sqlite', 'store/postgres'),
    message: 'Only src/cli wires in a concrete store: import the port, src/store/store.ts.'
  },
  {
    target: [...src(...srcFolders.filter(n => n !== 'cli')), './src/*.ts', './test', './bench', './scripts'],
    from: './src/cli',
    message: 'src/cli is the composition root: nothing imports it (spawn the CLI in tests).'
  }
]

export default [
  ...neostandard({
    ts: true,
    ignores: ['node_modules/**', 'dist/**', 'data/**', 'bench/out/**', 'test-artifacts/**']
  }),
  {
    name: 'truedy/style',
    rules: {
      // `void promise` marks a deliberate fire-and-forget call (signal handlers in src/cli).
      'no-void': ['error', { allowAsStatement: true }],
      // The code packs short properties several to a line in multi-line object literals
      // (`store, backend, location: file,` then one method per line).
      '@stylistic/object-property-newline': 'off',
      // Event maps quote every key when some need it (`'call:dialing'`, …, `'error'`), while header
      // and lookup objects mix `authorization` with `'content-type'`: quoting a key that does not
      // need it is allowed ('consistent-as-needed' would reject the second habit).
      '@stylistic/quote-props': ['error', 'as-needed', { unnecessary: false }]
    }
  },
  {
    name: 'truedy/tests',
    files: ['test/**'],
    rules: {
      // Tests of the prototype-pollution guards read an own property named `__proto__`.
      'no-proto': 'off'
    }
  },
  {
    name: 'truedy/layering',
    files: ['**/*.{js,mjs,cjs,ts,mts,cts}'],
    plugins: { 'import-x': importX },
    settings: {
      // Sources import `./x.js` for `./x.ts` (module: node16); resolve them the way tsc does,
      // otherwise no-restricted-paths silently skips every unresolved import.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'], '.cjs': ['.cts', '.cjs'] }
        })
      ]
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: layering }]
    }
  }
]
