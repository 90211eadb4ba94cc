from tapelab.cli import main

raise SystemExit(main())
