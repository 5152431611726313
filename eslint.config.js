// Lint rules, including the hexagon's dependency rules (checked in CI): the domain imports only ports and
// the standard library; ports import nothing but other ports; adapters never import the domain or the app.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const onlyBuiltinsAnd = (allowed, message) => ({
  patterns: [{
    regex: `^(?!node:)(?!${allowed}).*`,
    message
  }]
})

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tap/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // `import { type A } from 'x'` compiles (verbatimModuleSyntax) to `import {} from 'x'`, which still loads x:
      // a module needed only for its types is imported with `import type`.
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'use an `as const` union instead of enum' }]
    }
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-exports': ['error', { restrictDefaultExports: { direct: true, named: true, defaultFrom: true, namedFrom: true, namespaceFrom: true } }]
    }
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', onlyBuiltinsAnd('\\./[^/]+$|\\.\\./ports/[^/]+$', 'src/domain may import only src/ports, other domain files and node: built-ins')]
    }
  },
  {
    files: ['src/ports/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', onlyBuiltinsAnd('\\./[^/]+$', 'src/ports may import only other ports and node: built-ins')]
    }
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ regex: '(^|/)(domain|app)/', message: 'adapters depend on ports only; src/app wires them to the domain' }]
      }]
    }
  }
)
