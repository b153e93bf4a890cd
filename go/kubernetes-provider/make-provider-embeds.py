"""Write the provider's two embed files, as its generate.go does: version-stamped schema, compact JSON."""
import json
import sys
from pathlib import Path

src, version, dest = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
schema = json.loads((src / "schema.json").read_text())
schema["version"] = version
(dest / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
mapping = json.loads((src / "terraform-mapping.json").read_text())
(dest / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
