from autograder.cli.main import main

raise SystemExit(main())
