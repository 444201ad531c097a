import { runServiceProcess } from '@sagaflow/reference';

await runServiceProcess('orchestrator');
