import { describe, expect, it } from 'vitest'
import { displayName, UNKNOWN_CLIENT } from '../../src/catalogue/catalogue.js'
import data from '../../src/catalogue/clients.json' with { type: 'json' }

// The three ids official Telegram builds use: the plugin engine cannot run there,
// so whoever answers with one runs a fork that uses it.
const OFFICIAL_IDS = ['org.telegram.messenger', 'org.telegram.messenger.web', 'org.telegram.messenger.beta']

describe('the catalogue', () => {
  it('names each package once', () => {
    const packages = data.clients.map((c) => c.package)
    expect(new Set(packages).size).toBe(packages.length)
  })

  it('gives names that read well as "<who> uses <name>", as v1 plugins show them', () => {
    for (const { package: pkg, display } of data.clients) {
      const sentence = `6666 uses ${display}`
      expect(display, pkg).not.toMatch(/^Possibly|id shared by/)
      expect(display.length, sentence).toBeLessThanOrEqual(80)
      expect(display, sentence).toBe(display.trim())
    }
  })

  it('says that an official id means a fork, naming the known one', () => {
    expect(displayName('org.telegram.messenger')).toBe("AyuGram FCM or another fork with Telegram's app id")
    expect(displayName('org.telegram.messenger.web')).toBe("AyuGram FCM or another fork with the app id of Telegram's website APK")
    for (const id of OFFICIAL_IDS) expect(displayName(id)).toMatch(/fork/)
  })

  it('names an id several apps share as a fork, never as one of them', () => {
    const shared = data.clients.filter(({ apps }) => apps.length > 1)
    // The catalogue has such ids (Telegram's own, reused by forks): were there none, this would test nothing.
    expect(shared.length).toBeGreaterThan(0)
    for (const { package: pkg, display } of shared) expect(display, pkg).toMatch(/fork/)
  })

  it('answers the field words for an unknown package', () => {
    expect(UNKNOWN_CLIENT).toBe('Unknown Client')
    expect(displayName('com.example.never.heard')).toBe(UNKNOWN_CLIENT)
  })
})
