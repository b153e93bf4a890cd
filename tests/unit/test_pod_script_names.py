"""The paths the pod scripts hard-code (pod_scripts/common.sh) are the ones the program mounts and
the tests use (stack_config/names.py): a change on one side only must fail here, not in a pod."""

import re
from pathlib import Path

from stack_config import names

COMMON_SH = Path(__file__).resolve().parents[2] / "pod_scripts" / "common.sh"


def _assignments() -> dict[str, str]:
    return dict(re.findall(r"^\s*([A-Z_]+)=(\S+)\s*$", COMMON_SH.read_text(), flags=re.MULTILINE))


def test_common_sh_paths_match_the_names_module():
    values = _assignments()
    assert values["TEMPLATE_DIR"] == names.CONF_DIR
    assert values["DATA_DIR"] == names.DATA_DIR
    assert values["LOCAL_SOCKET"] == names.REDIS_SOCKET
    assert values["LOCAL_SOCKET"].startswith(names.TMP_DIR + "/")


def test_the_users_file_names_match_the_names_module():
    values = _assignments()
    assert values["ACL_TEMPLATE"] == f"$TEMPLATE_DIR/{names.USERS_ACL}"
    assert values["ACL_FILE"] == f"$REDIS_CONF_DIR/{names.USERS_ACL}"
    scripts = COMMON_SH.parent
    assert (scripts / names.OPERATOR_CLI_SCRIPT).is_file()
    # The variables the scripts read are the ones the components set from the Secret.
    for user in names.ACL_INTERNAL_USERS:
        assert names.acl_password_env(user) in COMMON_SH.read_text(), user
