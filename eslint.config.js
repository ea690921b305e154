import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers (README "How it is built"): data flows http -> services -> repositories, jobs -> engines,
 * and nothing reaches back upstream. Each folder may not import the folders named here; type-only
 * imports count. `main.ts`, `runtime.ts` and `config.ts` wire concrete adapters and are exempt.
 */
const layer = (folders, why) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          regex: `^(\\.\\./)+(${folders.join('|')})/`,
          message: why,
        },
      ],
    },
  ],
});
const layers = [
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ regex: '^\\.\\./', message: 'domain imports nothing of the project outside itself.' }],
        },
      ],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: layer(['http', 'jobs'], 'services are called by http and jobs, never the reverse.'),
  },
  {
    files: ['src/repositories/**/*.ts'],
    rules: layer(
      ['services', 'http', 'jobs', 'engines'],
      'repositories do I/O only: they never call services, http, jobs or engines.',
    ),
  },
  {
    files: ['src/http/**/*.ts'],
    rules: layer(
      ['repositories', 'jobs', 'engines'],
      'http talks to services only (put a small service in between).',
    ),
  },
  {
    files: ['src/engines/**/*.ts'],
    rules: layer(['http', 'services', 'jobs'], 'engines are called by jobs, and never call upstream.'),
  },
  {
    files: ['src/jobs/**/*.ts'],
    rules: layer(['http'], 'jobs never use the HTTP layer.'),
  },
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'data/',
      'coverage/',
      'bench-results/',
      'eval-results/',
      'test/.fixtures/',
      '.scratch/',
      'sdk/dist/',
      'console/dist/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        globalThis: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layers,
  {
    // the web console runs in the browser
    files: ['console/src/**/*.ts'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        navigator: 'readonly',
        localStorage: 'readonly',
        sessionStorage: 'readonly',
        FormData: 'readonly',
        File: 'readonly',
        Blob: 'readonly',
        Node: 'readonly',
        Element: 'readonly',
        HTMLElement: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLOptionElement: 'readonly',
        HTMLElementTagNameMap: 'readonly',
        EventListener: 'readonly',
      },
    },
  },
);
