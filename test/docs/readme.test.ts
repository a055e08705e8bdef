/**
 * README.md and its Russian translation README.ru.md, kept in step mechanically:
 * with each other (section by section, what must not be translated is the same:
 * code, commands, settings, endpoints, links; and the shape is the same: paragraphs,
 * list items, table rows), and with what they describe (src/config.ts, the routes,
 * the CLI, the plugin's own labels, the files they link to). An edit to one README
 * that leaves the other, or the code, behind fails here instead of going unnoticed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')

const EN = 'README.md'
const RU = 'README.ru.md'
const READMES = [EN, RU]

const FENCED = /^```[^\n]*\n[\s\S]*?^```$/gm

function codeBlocks (md: string): string[] {
  return md.match(FENCED) ?? []
}

/** The text outside fenced blocks, each block left as one placeholder line. */
function prose (md: string): string {
  return md.replace(FENCED, '```block```')
}

function codeSpans (md: string): Set<string> {
  // A span may wrap onto the next line, as Markdown allows: compared with its spaces collapsed.
  return new Set([...prose(md).replace(/```block```/g, '').matchAll(/`([^`]+)`/g)].map((m) => (m[1] as string).replace(/\s+/g, ' ')))
}

function bold (md: string): string[] {
  // A label may wrap onto the next line.
  return [...prose(md).matchAll(/\*\*([^*]+)\*\*/g)].map((m) => (m[1] as string).replace(/\s+/g, ' '))
}

function links (md: string): string[] {
  return [...prose(md).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string)
}

/** What a section is made of, apart from its words. */
function shape (md: string): { paragraphs: number, listItems: number, tableRows: number } {
  const text = prose(md).trim()
  return {
    paragraphs: text.split(/\n\s*\n/).filter((p) => p.trim() !== '').length,
    listItems: text.split('\n').filter((line) => /^\s*(?:[-*]|\d+\.) /.test(line)).length,
    tableRows: text.split('\n').filter((line) => line.startsWith('|')).length
  }
}

interface Section { heading: string, body: string }

/** The text before the first `## ` heading (heading ''), then one section per `## ` heading. */
function sections (md: string): Section[] {
  const parts = prose(md).split(/^(?=## )/m)
  // Split on the placeholder text, then give each section back its real blocks, in order.
  const blocks = codeBlocks(md)
  return parts.map((part) => {
    const body = part.replace(/```block```/g, () => blocks.shift() ?? '')
    const heading = /^## (.*)$/m.exec(part)?.[1] ?? ''
    return { heading: part.startsWith('## ') ? heading : '', body }
  })
}

/** The English sections in the order README.ru.md gives them: the plugin's first, as its readers come for it. */
function englishInRussianOrder (en: Section[]): Section[] {
  const plugin = en.findIndex((s) => /plugin/i.test(s.heading))
  expect(plugin, 'README.md has a plugin section').toBeGreaterThan(0)
  const [intro, ...rest] = en
  const [moved] = rest.splice(plugin - 1, 1)
  return [intro as Section, moved as Section, ...rest]
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

function filesUnder (dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name)
    return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path) : [path]
  })
}

describe('README.ru.md beside README.md', () => {
  const en = read(EN)
  const ru = read(RU)

  it('link to each other from their top', () => {
    expect(en.split('\n').slice(0, 4)).toContain('Русская версия: [README.ru.md](README.ru.md)')
    expect(ru.split('\n').slice(0, 4)).toContain('English version: [README.md](README.md)')
  })

  it('have the same sections, the plugin first in Russian and the rest in the English order', () => {
    const ruSections = sections(ru)
    const enSections = englishInRussianOrder(sections(en))
    expect(ruSections.map((s) => s.heading === '' ? '' : '##'), 'as many sections').toEqual(enSections.map((s) => s.heading === '' ? '' : '##'))
    expect(ruSections[1]?.heading, 'the first section of README.ru.md is the plugin').toMatch(/плагин/i)

    for (const [i, ruSection] of ruSections.entries()) {
      const enSection = enSections[i] as Section
      const where = `README.ru.md "${ruSection.heading || '(top)'}" beside README.md "${enSection.heading || '(top)'}"`
      // Code, commands, settings, endpoints and paths are never translated.
      expect([...codeSpans(ruSection.body)].sort(), `${where}: inline code`).toEqual([...codeSpans(enSection.body)].sort())
      expect(codeBlocks(ruSection.body), `${where}: code blocks`).toEqual(codeBlocks(enSection.body))
      const crossLinks = new Set([EN, RU])
      expect(links(ruSection.body).filter((l) => !crossLinks.has(l)), `${where}: links`).toEqual(links(enSection.body).filter((l) => !crossLinks.has(l)))
      expect(shape(ruSection.body), `${where}: paragraphs, list items, table rows`).toEqual(shape(enSection.body))
      expect(bold(ruSection.body).length, `${where}: bold labels`).toBe(bold(enSection.body).length)
    }
  })
})

describe.each(READMES)('%s', (file) => {
  const md = read(file)
  const spans = codeSpans(md)
  const blocks = codeBlocks(md).join('\n')

  it('starts the server and runs the tests with the two commands package.json defines', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
    expect(codeBlocks(md).slice(0, 2)).toEqual(['```sh\nnpm ci && npm start\n```', '```sh\nnpm test\n```'])
    expect(Object.keys(scripts)).toEqual(expect.arrayContaining(['prepare', 'start', 'test']))
  })

  it('has a settings line for every setting in src/config.ts, and none for a setting that does not exist', () => {
    const settings = [...read('src/config.ts').matchAll(/^\s+([A-Z][A-Z0-9_]+): Type\./gm)].map((m) => m[1])
    const rows = [...md.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1])
    expect(settings.length).toBeGreaterThan(20)
    expect([...rows].sort()).toEqual([...settings].sort())
  })

  it('names every HTTP route the server has, and no other', () => {
    const sources = [...filesUnder('src/routes'), ...filesUnder('src/plugins')].filter((f) => f.endsWith('.ts'))
    const routes = new Set(sources.flatMap((f) => [...read(f).matchAll(/app\.(get|post|put|patch|delete)\(\s*'([^']+)'/g)]
      .map((m) => `${(m[1] as string).toUpperCase()} ${(m[2] as string).replace(/:(\w+)/g, '{$1}')}`)))
    expect(routes.size).toBeGreaterThan(10)
    for (const route of routes) expect(spans, `${route} is named`).toContain(route)
    const named = [...spans].filter((s) => /^(GET|POST|PUT|PATCH|DELETE) \//.test(s))
    for (const endpoint of named) expect(routes, `${endpoint} is a route`).toContain(endpoint)
  })

  it('names every CLI command, and no option the CLI lacks', () => {
    const sources = filesUnder('src/cli').filter((f) => f.endsWith('.ts')).map(read).join('\n')
    const commands = [...sources.matchAll(/new Command\('([a-z-]+)'\)/g)].map((m) => m[1] as string)
    const options = new Set([...sources.matchAll(/[oO]ption\(\s*'(--[a-z][a-z-]*)/g)].map((m) => m[1] as string))
    expect(commands.length).toBeGreaterThan(3)
    const usage = [...spans, ...blocks.split('\n')]
    for (const command of commands) {
      expect(usage.some((s) => s === command || s.includes(`whatclient ${command}`)), `the ${command} command is named`).toBe(true)
    }
    // Every option is in --help; the README need not list them all, but names none that is not there.
    // npm's own flags (`npm run bench -- --quick`) are not the CLI's, nor Node's (`node --flag script`, `NODE_OPTIONS=--flag`).
    const withoutNodeFlags = (s: string): string => s.replace(/^node(?: --[a-z][a-z-]*(?:=\S+)?)+(?= |$)/, 'node').replace(/NODE_OPTIONS=--[a-z][a-z-]*(?:=\S+)?/g, '')
    const used = usage.filter((s) => !s.includes('npm ')).map(withoutNodeFlags).flatMap((s) => s.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? [])
    for (const option of used) expect([...options, '--help'], `${option} is a CLI option`).toContain(option)
  })

  it('links only to files that exist, and to headings they have', () => {
    const targets = links(md).filter((l) => !/^[a-z]+:/.test(l))
    expect(targets.length).toBeGreaterThan(5)
    for (const target of targets) {
      const [path, anchor] = target.split('#') as [string, string | undefined]
      // Both READMEs are at the root, so their links are relative to it.
      const file = join(ROOT, path)
      expect(existsSync(file), `${target} exists`).toBe(true)
      if (anchor === undefined) continue
      const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1] as string))
      expect(headings, `${relative(ROOT, file)} has a heading for #${anchor}`).toContain(anchor)
    }
  })

  it("quotes the plugin's settings by the labels the plugin shows", () => {
    const plugin = read('plugin/whatclient.plugin').toLowerCase()
    const section = sections(md).find((s) => /plugin|плагин/i.test(s.heading))
    const labels = bold(section?.body ?? '')
    expect(labels.length).toBeGreaterThan(3)
    for (const label of labels) expect(plugin, `the plugin shows "${label}"`).toContain(label.toLowerCase())
  })
})
