"""Every name the page shares: session-state fields, widget keys, link parameters, and the names
the step view's browser code and the tests use. One place, so nothing is spelled twice.

The page model (``ui/state.py``) keeps its fields under ``Model``; widgets have their own keys
(``Widget``), and callbacks copy a widget's value into the model, so a field never depends on
whether its widget was drawn in this run.
"""

from __future__ import annotations


class Model:
    """Session-state fields of the page model (ui/state.py)."""

    INITIALIZED = "model.initialized"
    PROGRAM = "model.program"  # the text of the program on screen (the last one that ran)
    INITIAL_TEXT = "model.initial_text"  # the editor's default: the link's program
    EDITOR_UNSEEN = "model.editor_unseen"  # the editor's browser value not yet read (see state.adopt_editor)
    SEED = "model.seed"
    TRACE = "model.trace"
    ERROR = "model.error"  # a ProgramError, or None
    STALE = "model.stale"  # the editor holds text that did not run; the graph is the last good one
    T = "model.t"  # the step, as last reported by the browser (or set by the server)
    NODE = "model.node"  # the node picked in the inspector, or None (follow the current node)
    REVISION = "model.revision"  # bumped when the server moves the step itself (see state.py)
    REQUEST = "model.request"  # the view the server asks the browser to show at that revision
    RANKDIR = "model.rankdir"
    COLLAPSED = "model.collapsed"  # the frames drawn collapsed (a frozenset), or None: the default
    PRESENT = "model.present"
    PLAYING = "model.playing"
    SPEED = "model.speed"
    SECOND = "model.second"  # the input whose gradient graph is shown, or None
    SECOND_TRACE = "model.second_trace"
    TOOL_CACHE = "model.tool_cache"  # results of the tool tabs, bounded (state.remember)
    SHOWN = "model.shown"  # (key, studio.Prepared) of the step view on screen: the session keeps it
    MINE_INITIAL = "model.mine_initial"  # the claims editor's default: the link's or the example's claims
    CLAIMS = "model.claims"  # (key, ClaimsReport or an error sentence) of the claims last checked
    PREDICT = "model.predict"  # predict-then-reveal is on
    PREDICTIONS = "model.predictions"  # {"key": the trace's, "results": {t: (PredictionResult, ...)}}


class Widget:
    """Widget keys. Distinct from the model fields: a callback copies the value over."""

    EDITOR = "editor"
    RUN = "run"
    EXAMPLE = "example"
    SEED = "seed"
    PRESENT = "present"
    RANKDIR = "rankdir"
    STUDIO = "studio"  # the step view component
    SECOND_WRT = "second_wrt"
    SECOND_GO = "differentiate_again"
    SECOND_BACK = "second_back"
    CHECK_SYMMETRIC = "check_symmetric"
    CHECK_RUN = "run_check"
    SWEEP_INPUTS = "sweep_inputs"
    WHAT_IF_INPUTS = "what_if_inputs"
    WHAT_IF = "whatif_"  # the prefix of each what-if input's key (its name and the program's version follow)
    SWEEP_LOW = "sweep_lo_"  # the prefixes of the sweep's range boxes (the program's version follows)
    SWEEP_HIGH = "sweep_hi_"
    TRAIN_INPUTS = "train_inputs"
    TRAIN_METHOD = "train_method"
    TRAIN_RATE = "train_rate"
    TRAIN_STEPS = "train_steps"
    TRAIN_RUN = "train_run"
    TRAIN_ITERATE = "train_iterate"
    TRAIN_OPEN = "train_open"
    MINE = "mine"  # the claims editor ("My gradient"): the prefix of its key (state.mine_key)
    MINE_SOLUTION = "mine_solution"
    TOOLS = "tools"  # the tool tabs: only the open one runs
    DOWNLOAD_DOT = "download_dot"
    DOWNLOAD_JSON = "download_json"
    DOWNLOAD_SCRIPT = "download_script"


class Link:
    """Query parameters of the share link (lecturers put these in slides: keep them stable)."""

    PROGRAM = "program"
    SEED = "seed"
    T = "t"  # an integer or "end"
    NODE = "node"
    RANKDIR = "rankdir"  # "LR" when on
    PRESENT = "present"  # "1" when on
    AUTOPLAY = "autoplay"  # "1" when on
    SPEED = "speed"  # seconds per step
    SECOND = "second"
    COLLAPSED = "collapsed"  # frame ids, "1,2,3", or "none"
    MINE = "mine"  # the claims text ("My gradient")
    PREDICT = "predict"  # "1" when predict-then-reveal is on
    OPTIONAL = ("node", "rankdir", "present", "autoplay", "speed", "second", "collapsed", "mine", "predict")


# The step view component (ui/studio.py, static/studio/*.js): its registered name, the one state
# value it reports ({"t", "node", "playing", "speed", "revision", "collapsed", "predict"}), the
# trigger it sends answers by ({"t", "program", "items": [[position, text], ...]}), and the
# data-hook attributes its elements carry, which the browser tests select by.
COMPONENT = "backprop_studio.step_view"
VIEW_STATE = "view"
ANSWERS_TRIGGER = "answers"
HOOKS = {
    "root": "studio", "toolbar": "toolbar", "phase": "phase", "first": "first", "prev": "prev",
    "play": "play", "next": "next", "last": "last", "slider": "slider", "speed": "speed",
    "graph": "graph", "fit": "fit", "zoom_in": "zoom-in", "zoom_out": "zoom-out", "follow": "follow",
    "animate": "animate", "svg_download": "svg-download", "step": "step", "formulas": "formulas",
    "inspector": "inspector", "tape": "tape", "expansion": "expansion", "collapse_all": "collapse-all",
    "expand_all": "expand-all", "step_into": "step-into", "predict": "predict", "score": "score",
    "question": "question", "answer": "answer", "reveal": "reveal", "claim_mark": "claim-mark",
}
STATIC_URL = "app/static"  # where Streamlit serves ./static (server.enableStaticServing)
