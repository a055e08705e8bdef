/**
 * `GET /v2/webapp`: a page the operator's bot can name as its Mini App, so a
 * deployment needs nothing else. Plugins never show it (they only ask
 * Telegram for init data); a person who opens the bot's Mini App reads what
 * WhatClient is. Static, no script at all: the init data Telegram puts in the
 * page address's fragment stays on the device. The CSP allows only the one
 * inline style block, by its hash.
 */
import { createHash } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'

const STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:24px;max-width:40em;
color:var(--tg-theme-text-color,#1f2328);background:var(--tg-theme-bg-color,#fff)}
h1{font-size:1.4em;margin:0 0 .5em}
p,li{margin:.5em 0}
.muted{color:var(--tg-theme-hint-color,#59636e)}
@media (prefers-color-scheme:dark){body{color:var(--tg-theme-text-color,#e6edf3);background:var(--tg-theme-bg-color,#0d1117)}
.muted{color:var(--tg-theme-hint-color,#9198a1)}}
`

export const WEBAPP_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>WhatClient</title>
<style>${STYLE}</style>
</head>
<body>
<h1>WhatClient</h1>
<p>WhatClient tells you which Telegram app someone uses, when they run the WhatClient
plugin too. Their plugin answers for them, and only as they allow: everyone, only their
contacts, or nobody.</p>
<p>This bot is how the plugin proves who you are. When it signs in, your Telegram app
asks Telegram to vouch for your account for this bot; the WhatClient server checks
Telegram's signature and gives the plugin a short-lived session. No password, and the
plugin never sees anything of your account but your user id.</p>
<ul>
<li>Questions are anonymous unless the asker chooses to be named.</li>
<li>The server keeps a question only until it is answered or expires, and seals what it holds.</li>
<li>There is nothing to do on this page.</li>
</ul>
<p class="muted">This page runs no script and loads nothing else: the sign-in data Telegram
attaches to its address stays on your device.</p>
</body>
</html>
`

const styleHash = createHash('sha256').update(STYLE).digest('base64')

export const WEBAPP_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${styleHash}'`,
  "base-uri 'none'",
  "form-action 'none'"
].join('; ')

const webapp: FastifyPluginAsync = async (app) => {
  app.get('/v2/webapp', {
    schema: { summary: "A page for the bot's Mini App: what WhatClient is", tags: ['v2'], produces: ['text/html'] }
  }, async (_request, reply) => reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', WEBAPP_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'public, max-age=3600')
    .send(WEBAPP_PAGE))
}

export default webapp
