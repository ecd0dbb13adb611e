import fs from 'node:fs'
import type { DocumentType } from '../../db/schema/subscriber.ts'
import type { IdentityDocument, IdentityResult, IdentityVerifier } from './identity-verifier.ts'

interface SandboxPerson {
  id: string
  name: string
  birthdate: string
  phone: string
  documents: Partial<Record<DocumentType, { number: string; issueDate: string }>>
}

/**
 * The SANDBOX identity provider: a registry of test persons shipped with the project (see
 * sandbox-persons.json and the README). Only outside production (config refuses it there).
 */
export class SandboxIdentityRegistry implements IdentityVerifier {
  readonly kind = 'sandbox' as const
  readonly persons: readonly SandboxPerson[]

  constructor(persons: readonly SandboxPerson[] = loadPersons()) {
    this.persons = persons
  }

  async verify(document: IdentityDocument): Promise<IdentityResult> {
    const person = this.persons.find((p) => p.documents[document.type]?.number === document.number)
    if (!person) return { verified: false, reason: 'not_found' }
    const registered = person.documents[document.type]!
    const sameName = person.name.replace(/\s+/g, '').toLowerCase() === document.name.replace(/\s+/g, '').toLowerCase()
    if (!sameName || person.birthdate !== document.birthdate || registered.issueDate !== document.issueDate) {
      return { verified: false, reason: 'mismatch' }
    }
    return { verified: true, identity: { identityKey: person.id, name: person.name, birthdate: person.birthdate, phones: [person.phone] } }
  }
}

function loadPersons(): SandboxPerson[] {
  return JSON.parse(fs.readFileSync(new URL('./sandbox-persons.json', import.meta.url), 'utf8')) as SandboxPerson[]
}
