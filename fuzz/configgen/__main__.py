"""python -m fuzz.configgen gen-configs N --out DIR [--seed S]"""

import sys

from fuzz.configgen.generate import main

sys.exit(main())
