import { test } from 'node:test';
import { repositoryContract } from './contract/repositories.contract.ts';
import { postgresAvailable } from './helpers/db.ts';

// Under CI a missing PostgreSQL fails the run (postgresAvailable throws); on a laptop it is skipped.
if (await postgresAvailable()) repositoryContract('postgres');
else test('repositories on postgres', { skip: 'no PostgreSQL at DHS_TEST_DATABASE_URL' }, () => {});
