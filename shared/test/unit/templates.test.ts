import { describe, expect, it } from 'vitest'
import { renderTemplate, templateVariablesOf } from '../../src/templates.js'

describe('templates', () => {
  const body = 'Halo {{name}}, tagihan {{ invoice }} sebesar {{amount}}. Terima kasih, {{name}}!'

  it('lists the variables a body uses once each, in order', () => {
    expect(templateVariablesOf(body)).toEqual(['name', 'invoice', 'amount'])
  })

  it('replaces every placeholder, numbers written as text', () => {
    expect(renderTemplate(body, { name: 'Budi', invoice: 'INV-7', amount: 150000, unused: 'x' })).toEqual({
      ok: true,
      text: 'Halo Budi, tagihan INV-7 sebesar 150000. Terima kasih, Budi!',
    })
  })

  it('names every missing variable', () => {
    expect(renderTemplate(body, { name: 'Budi' })).toEqual({ ok: false, missing: ['invoice', 'amount'] })
  })

  it('does not read inherited properties as variables, nor treat a value as a placeholder', () => {
    expect(renderTemplate('{{constructor}}', {})).toEqual({ ok: false, missing: ['constructor'] })
    expect(renderTemplate('{{a}}', { a: '{{b}}' })).toEqual({ ok: true, text: '{{b}}' })
  })
})
