import { repositoryContract } from './contract/repositories.contract.ts';

repositoryContract('sqlite');
