import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'api/v2beta1/types.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // Prettier wraps code at this width but cannot break strings; comments are wrapped by hand.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },
  // The agent, the controller and the webhooks share code only through ipam/ and lib/, so that a rule
  // changed in one cannot silently diverge from, or drag process state into, another.
  ...[
    { files: ['operator/**', 'webhooks/**'], restricted: ['agent'], why: 'the agent is its own process' },
    {
      files: ['agent/**'],
      restricted: ['operator', 'webhooks'],
      why: 'the controller and the webhooks are other processes',
    },
    {
      files: ['ipam/**'],
      restricted: ['agent', 'operator', 'webhooks'],
      why: 'ipam/ holds the rules every process shares',
    },
  ].map(({ files, restricted, why }) => ({
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: restricted.map((dir) => `**/${dir}/**`),
              message: `${why}: move what is shared to ipam/ or lib/.`,
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
