"""Loading libpfedrl and declaring the C functions the package calls (include/pfedrl/pfedrl.h).

Only the public C API is used: the configuration is an opaque handle read and set by key, and the
size-versioned structs (pfr_metrics, pfr_setup_info) are passed with this module's own size, so a
newer library fills only the fields declared here.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

#: Environment variable naming the libpfedrl.so to load (a build tree's, say) instead of the
#: package's own.
LIBRARY_ENV = "PFEDRL_LIBRARY"


class Metrics(ctypes.Structure):
    """struct pfr_metrics (versioned by size: fields are only ever appended). The C list is
    PFR_METRICS_FIELDS; a test checks this copy against the library's pfr_metrics_field."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("round", ctypes.c_int64),
        ("agent_steps", ctypes.c_uint64),
        ("value_error", ctypes.c_double),
        ("td_fixed_point_error", ctypes.c_double),
        ("best_rank_d_error", ctypes.c_double),
        ("phi_norm", ctypes.c_double),
        ("theta_norm", ctypes.c_double),
        ("wall_s", ctypes.c_double),
        ("agent_steps_per_sec", ctypes.c_double),
        ("participants", ctypes.c_double),
        ("mean_steps", ctypes.c_double),
        ("mean_staleness", ctypes.c_double),
        ("epsilon", ctypes.c_double),
        ("policy_gap", ctypes.c_double),
        ("policy_agents", ctypes.c_double),
        ("pooled_value_error", ctypes.c_double),
        ("greedy_return", ctypes.c_double),
        ("success_rate", ctypes.c_double),
        ("td_loss", ctypes.c_double),
        ("heldout_return", ctypes.c_double),
    ]


class SetupInfo(ctypes.Structure):
    """struct pfr_setup_info (versioned by size)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("setup_s", ctypes.c_double),
        ("truth_s", ctypes.c_double),
        ("truth_method", ctypes.c_char_p),
        ("truth_resid_v", ctypes.c_double),
        ("truth_resid_mu", ctypes.c_double),
        ("cpu_kernel", ctypes.c_char_p),
    ]


class FederationTotals(ctypes.Structure):
    """struct pfr_federation_totals (versioned by size)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("rounds", ctypes.c_int64),
        ("participations", ctypes.c_uint64),
        ("mean_participants", ctypes.c_double),
        ("mean_steps", ctypes.c_double),
        ("mean_staleness", ctypes.c_double),
        ("private_rounds", ctypes.c_int64),
        ("epsilon", ctypes.c_double),
        ("delta", ctypes.c_double),
        ("rdp_order", ctypes.c_int),
    ]


class Error(ctypes.Structure):
    """struct pfr_error: a message buffer for calls without a handle."""

    _fields_ = [("msg", ctypes.c_char * 1024)]


PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(Metrics))
SETUP_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double)

_c = ctypes
_P = ctypes.c_void_p  # opaque handles: pfr_config*, pfr_sim*
_S = ctypes.c_int  # pfr_status
_ERR = ctypes.POINTER(Error)

# name: (restype, argtypes)
_SIGNATURES = {
    "pfr_status_string": (_c.c_char_p, [_S]),
    "pfr_version": (_c.c_char_p, []),
    "pfr_metrics_field": (_c.c_char_p, [_c.c_size_t, _c.POINTER(_c.c_char_p), _c.POINTER(_c.c_size_t)]),
    "pfr_config_create": (_S, [_c.POINTER(_P), _ERR]),
    "pfr_config_destroy": (None, [_P]),
    "pfr_config_set": (_S, [_P, _c.c_char_p, _c.c_char_p, _ERR]),
    "pfr_config_get": (_S, [_P, _c.c_char_p, _c.c_char_p, _c.c_size_t, _ERR]),
    "pfr_config_load_yaml": (_S, [_P, _c.c_char_p, _ERR]),
    "pfr_config_validate": (_S, [_P, _ERR]),
    "pfr_config_key_count": (_c.c_size_t, []),
    "pfr_config_key_name": (_c.c_char_p, [_c.c_size_t]),
    "pfr_config_key_help": (_c.c_char_p, [_c.c_size_t]),
    "pfr_config_key_default": (None, [_c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "pfr_config_key_allowed": (None, [_c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "pfr_config_key_value": (None, [_P, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "pfr_sim_create_ex": (_S, [_P, SETUP_PROGRESS_FN, _P, _c.POINTER(_P), _ERR]),
    "pfr_sim_create_stoppable": (_S, [_P, SETUP_PROGRESS_FN, _P, _c.POINTER(_c.c_int), _c.POINTER(_P), _ERR]),
    "pfr_sim_destroy": (None, [_P]),
    "pfr_sim_set_progress": (None, [_P, PROGRESS_FN, _P]),
    "pfr_sim_run": (_S, [_P, _c.c_int64]),
    "pfr_sim_run_ex": (_S, [_P, _c.c_int64, _c.c_uint]),
    "pfr_sim_request_stop": (None, [_P]),
    "pfr_sim_save": (_S, [_P, _c.c_char_p, _ERR]),
    "pfr_sim_load": (_S, [_c.c_char_p, _c.POINTER(_c.c_char_p), _c.c_size_t, SETUP_PROGRESS_FN, _P, _c.POINTER(_P), _ERR]),
    "pfr_sim_load_stoppable": (_S, [_c.c_char_p, _c.POINTER(_c.c_char_p), _c.c_size_t, SETUP_PROGRESS_FN, _P,
                                    _c.POINTER(_c.c_int), _c.POINTER(_P), _ERR]),
    "pfr_sim_evaluate": (_S, [_P, _c.POINTER(Metrics), _c.c_size_t]),
    "pfr_sim_last_error": (_c.c_char_p, [_P]),
    "pfr_sim_warnings": (_c.c_char_p, [_P]),
    "pfr_sim_config": (_P, [_P]),
    "pfr_sim_num_states": (_c.c_int, [_P]),
    "pfr_sim_num_types": (_c.c_int, [_P]),
    "pfr_sim_num_actions": (_c.c_int, [_P]),
    "pfr_sim_round": (_c.c_int64, [_P]),
    "pfr_sim_backend": (_c.c_char_p, [_P]),
    "pfr_sim_threads": (_c.c_int, [_P]),
    "pfr_sim_env_description": (_c.c_char_p, [_P]),
    "pfr_sim_setup_info": (_S, [_P, _c.POINTER(SetupInfo), _c.c_size_t]),
    "pfr_sim_federation_totals": (_S, [_P, _c.POINTER(FederationTotals), _c.c_size_t]),
    "pfr_sim_type_singular_values": (_c.c_int, [_P, _c.POINTER(_c.c_double), _c.c_size_t]),
    "pfr_sim_get_phi": (_S, [_P, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_get_agent_phi": (_S, [_P, _c.c_int64, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_get_theta": (_S, [_P, _c.c_int64, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_get_thetas": (_S, [_P, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_get_states": (_S, [_P, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_body_size": (_c.c_int64, [_P]),
    "pfr_sim_get_body": (_S, [_P, _c.c_int64, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_get_head": (_S, [_P, _c.c_int64, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_set_phi": (_S, [_P, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_set_theta": (_S, [_P, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_set_states": (_S, [_P, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_get_ground_truth": (_S, [_P, _c.c_int, _c.c_void_p, _c.c_void_p, _c.c_size_t]),
    "pfr_sim_metrics_count": (_c.c_size_t, [_P]),
    "pfr_sim_metrics_get": (_S, [_P, _c.c_size_t, _c.POINTER(Metrics), _c.c_size_t]),
    "pfr_sim_metrics_by_type": (_S, [_P, _c.c_size_t, _c.c_void_p, _c.c_size_t]),
    "pfr_describe_engines": (None, [_c.c_char_p, _c.c_size_t]),
}


def _candidates() -> list[str]:
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    found = [str(p) for p in (here / "libpfedrl.so",) if p.exists()]
    system = ctypes.util.find_library("pfedrl")
    return found + ([system] if system else [])


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        return lib
    where = "; ".join(tried) if tried else "none found"
    raise ImportError(
        f"pfedrl: libpfedrl could not be loaded ({where}); install the package with `pip install ./python` "
        f"from the repository, or set {LIBRARY_ENV} to a built libpfedrl.so"
    )


lib = _load()

# The status codes this package tells apart (values of the C enum pfr_status, part of the ABI); the
# text of any code comes from pfr_status_string.
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_CONFIG = 2
ERR_IO = 3
ERR_FORMAT = 4
ERR_NO_MEMORY = 5
ERR_INTERRUPTED = 14

# pfr_sim_run_ex's flags (pfedrl.h)
RUN_EVALUATE_END = 1
