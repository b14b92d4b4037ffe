import sys

from workers.ingest.main import main

sys.exit(main())
