#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader, so no build step is needed after `npm install`,
// and tests and `npx truedy` always run the current sources. `npm start` runs the compiled build
// (dist/, from `npm run build`) instead.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
