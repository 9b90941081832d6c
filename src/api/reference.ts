/** Renders the OpenAPI document as one static, readable HTML page (no scripts, no CDN). */

interface Doc {
  info: { title: string, version: string, description?: string }
  paths: Record<string, Record<string, Op>>
  components?: { schemas?: Record<string, unknown> }
}
interface Op {
  summary?: string
  description?: string
  tags?: string[]
  parameters?: Array<{ name: string, in: string, required?: boolean, schema?: unknown, description?: string }>
  requestBody?: { content?: Record<string, { schema?: unknown }> }
  responses?: Record<string, { description?: string, content?: Record<string, { schema?: unknown }> }>
}

const esc = (s: string): string => s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!))

function schemaBlock (schema: unknown): string {
  return `<pre>${esc(JSON.stringify(schema, null, 2))}</pre>`
}

export function renderReference (doc: Doc): string {
  const byTag = new Map<string, string[]>()
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? 'Other'
      const anchor = `${method}-${path}`.replace(/[^a-zA-Z0-9]+/g, '-')
      const params = (op.parameters ?? []).map(p => `<li><code>${esc(p.name)}</code> (${esc(p.in)}${p.required ? ', required' : ''}) ${esc(JSON.stringify(p.schema ?? {}))}</li>`).join('')
      const body = op.requestBody?.content ? Object.entries(op.requestBody.content).map(([ct, c]) => `<h4>Request body <small>${esc(ct)}</small></h4>${schemaBlock(c.schema)}`).join('') : ''
      const responses = Object.entries(op.responses ?? {}).map(([code, r]) =>
        `<details><summary><b>${esc(code)}</b> ${esc(r.description ?? '')}</summary>${r.content ? schemaBlock(Object.values(r.content)[0]?.schema) : ''}</details>`).join('')
      const html = `<section id="${anchor}"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary ?? '')}${op.description ? ' — ' + esc(op.description) : ''}</p>${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ''}${body}<h4>Responses</h4>${responses}</section>`
      if (!byTag.has(tag)) byTag.set(tag, [])
      byTag.get(tag)!.push(html)
    }
  }
  const toc = [...byTag.keys()].map(t => `<li><a href="#tag-${esc(t)}">${esc(t)}</a></li>`).join('')
  const sections = [...byTag.entries()].map(([t, ops]) => `<h2 id="tag-${esc(t)}">${esc(t)}</h2>${ops.join('\n')}`).join('\n')
  const schemas = Object.entries(doc.components?.schemas ?? {}).map(([n, s]) => `<details id="schema-${esc(n)}"><summary><code>${esc(n)}</code></summary>${schemaBlock(s)}</details>`).join('')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)} reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:0 auto;padding:1rem;color:#1b1f24}pre{background:#f5f7fa;padding:.6rem;overflow:auto;font-size:12px}
section{border-top:1px solid #dde;padding:.5rem 0}.m{font:bold 12px monospace;padding:2px 6px;border-radius:4px;color:#fff;background:#555}.get{background:#2a7}.post{background:#27c}.patch{background:#c80}.delete{background:#c33}</style></head>
<body><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1><p>${esc(doc.info.description ?? '')}</p>
<p>Base path <code>/api/public/v1</code>. Authenticate with <code>Authorization: Bearer truedy_…</code>. Machine-readable: <a href="/api/public/v1/openapi.json">openapi.json</a>.</p>
<nav><ul>${toc}<li><a href="#schemas">Schemas</a></li></ul></nav>${sections}<h2 id="schemas">Schemas</h2>${schemas}</body></html>`
}
