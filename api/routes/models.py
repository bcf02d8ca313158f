"""Model: Retrieve Models, Save Model, Load Model, Remove Model, Execute Script; and deployments:
Deploy Model, Retrieve List Deployed Models, Update Status Deployment, Delete Deployed Model.

``model_id`` is a model's id or its name; ``task_id`` a deployment's id (as ``/deployments``
lists them). Deploying on a connected exchange account (not the paper account) needs
``"confirm": true``, as the chat's confirmation button.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.common import PNG, Limit, Paged, PageNumber, Reader, Trader, core_of, wants_png
from api.problems import PROBLEMS
from core.db import parse_id
from core.deployment import service as deployments
from core.deployment.bars import Timing
from core.deployment.service import Action, DeploymentView, DeployRequest
from core.deployment.status import Status
from core.errors import NotFound
from core.market.types import Source
from core.model import service as models
from core.model.execute import ScriptRun, execute_script
from core.model.service import ModelRequest, ModelView

router = APIRouter(prefix="/v1", responses=PROBLEMS)


class Script(BaseModel):
    """The specification's ``scriptScript``: the program and values for its ``input()``s."""

    source: str = Field(min_length=1, max_length=16_384, description="the script (see docs/script.md)")
    inputs: dict[str, float | int | bool] = Field(default_factory=dict, max_length=64)


class ModelOut(BaseModel):
    id: int
    label: str
    description: str
    overlay: bool
    kind: str = Field(description="long-only, long/short or indicator")
    script: Script
    declared_inputs: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(view: ModelView) -> ModelOut:
        return ModelOut(id=view.id, label=view.label, description=view.description, overlay=view.overlay,
                        kind=view.kind, script=Script(source=view.source, inputs=view.inputs),
                        declared_inputs=view.declared, created_at=view.created_at, updated_at=view.updated_at)  # fmt: skip


class SaveModel(BaseModel):
    label: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    overlay: bool | None = None
    script: Script


class SavedModel(BaseModel):
    model: ModelOut
    created: bool


class ExecuteScript(BaseModel):
    model_id: str | None = Field(default=None, max_length=64, description="a saved model; or give its script")
    script: Script | None = None
    ticker: str = Field(min_length=1, max_length=32)
    range: str | None = Field(default=None, max_length=8)
    interval: str = Field(default="1d", max_length=4)
    source: Source = Source.UNKNOWN


class Execution(BaseModel):
    label: str
    ticker: str
    interval: str
    bars: int
    inputs: dict[str, Any]
    is_indicator: bool
    stats: dict[str, float | int | None] = Field(description="the backtest's key figures (none for an indicator)")
    last_signal: str | None
    last_signal_at: datetime | None
    sample: bool


@router.get("/models", summary="Retrieve Models", tags=["Model"], response_model=Paged[ModelOut])
async def retrieve_models(request: Request, caller: Reader, page: PageNumber = 1, limit: Limit = 10) -> Paged[ModelOut]:
    found = await models.list_models(core_of(request).db, caller.actor, page, limit)
    return Paged[ModelOut].of(found, ModelOut.of)


@router.post("/models", summary="Save Model", tags=["Model"], response_model=SavedModel)
async def save_model(body: SaveModel, request: Request, caller: Trader) -> SavedModel:
    """Create the model, or replace the script of the caller's model of that name."""
    saved = await models.save_model(core_of(request).db, caller.actor, ModelRequest(
        body.label, body.script.source, body.description, body.overlay, body.script.inputs))  # fmt: skip
    return SavedModel(model=ModelOut.of(saved.model), created=saved.created)


@router.get("/models/{model_id}", summary="Load Model", tags=["Model"], response_model=ModelOut)
async def load_model(model_id: str, request: Request, caller: Reader) -> ModelOut:
    return ModelOut.of(await models.model_by_ref(core_of(request).db, caller.actor, model_id))


@router.delete("/models/{model_id}", summary="Remove Model", tags=["Model"], response_model=ModelOut)
async def remove_model(model_id: str, request: Request, caller: Trader) -> ModelOut:
    core = core_of(request)
    found = await models.model_by_ref(core.db, caller.actor, model_id)
    return ModelOut.of(await models.remove_model(core.db, caller.actor, found.label))


@router.post("/scripts/execute", summary="Execute Script", tags=["Model"], response_model=Execution,
             responses={200: PNG})  # fmt: skip
async def execute(body: ExecuteScript, request: Request, caller: Reader) -> Execution | Response:
    """Run a saved model or a script over the ticker's bars, as ``/run`` does: its backtest's key
    figures, and with ``Accept: image/png`` the chart."""
    core = core_of(request)
    png = wants_png(request)
    if body.model_id:
        model = await models.model_by_ref(core.db, caller.actor, body.model_id)
        extra = body.script.inputs if body.script else {}
        run = ScriptRun.of_model(model, body.ticker, body.interval, body.range, extra)
    elif body.script is not None:
        run = ScriptRun(body.script.source, body.ticker, body.interval, body.range, inputs=body.script.inputs)
    else:
        raise NotFound("give model_id (a saved model) or script (its source)")
    run = ScriptRun(run.source, run.ticker, run.interval, run.range, run.label, run.inputs, run.overlay,
                    body.source, chart=png)  # fmt: skip
    done = await execute_script(core, caller.actor, run)
    if png and done.chart is not None:
        return Response(done.chart, media_type="image/png")
    last = done.last_signal()
    return Execution(label=done.label, ticker=done.candles.instrument.display, interval=done.candles.interval.code,
                     bars=len(done.candles.frame), inputs=done.inputs, is_indicator=done.is_indicator,
                     stats=done.stats, last_signal=last[1] if last else None,
                     last_signal_at=last[0].to_pydatetime() if last else None, sample=done.candles.sample)  # fmt: skip


# -- deployments -------------------------------------------------------------------------------


class DeployModel(BaseModel):
    model_id: str = Field(min_length=1, max_length=64)
    credential_id: str | None = Field(default=None, max_length=64,
                                      description="a connected key's label; none: the paper account")  # fmt: skip
    timing: Timing = Timing.ON_TIME
    ticker: str = Field(min_length=1, max_length=32, description="what it trades (BTCUSDT, BBCA)")
    interval: str = Field(default="1d", max_length=4)
    size: float | None = Field(default=None, gt=0, le=1, description="share of the free balance per entry")
    stake_amount: float | None = Field(default=None, gt=0, description="a fixed amount per entry, in the quote currency")
    inputs: dict[str, float | int | bool] = Field(default_factory=dict, max_length=64)
    confirm: bool = Field(default=False, description="needed to trade a connected exchange account")


class DeploymentOut(BaseModel):
    task_id: int
    label: str
    ticker: str
    interval: str
    source: str
    timing: str
    status: Status
    status_reason: str
    paper: bool
    credential: str
    position_qty: float
    entry_price: float | None
    quote_currency: str
    size: float
    stake_amount: float | None
    max_position_value: float | None
    inputs: dict[str, Any]
    last_bar_at: datetime | None
    last_signal: str | None
    created_at: datetime

    @staticmethod
    def of(view: DeploymentView) -> DeploymentOut:
        return DeploymentOut(task_id=view.id, label=view.label, ticker=view.ticker, interval=view.interval,
                             source=view.market, timing=view.timing, status=view.status,
                             status_reason=view.status_reason, paper=view.paper, credential=view.credential_label,
                             position_qty=view.position_qty, entry_price=view.entry_price,
                             quote_currency=view.quote_currency, size=view.size, stake_amount=view.stake_amount,
                             max_position_value=view.max_position_value, inputs=view.inputs,
                             last_bar_at=view.last_bar_at, last_signal=view.last_signal,
                             created_at=view.created_at)  # fmt: skip


class UpdateStatus(BaseModel):
    task_id: str = Field(min_length=1, max_length=20)
    status: str = Field(max_length=20, description="Paused, NoPosition or OpenPosition (resume), TaskCanceled (stop)")


@router.post("/deployments", summary="Deploy Model", tags=["Model"], response_model=DeploymentOut)
async def deploy_model(body: DeployModel, request: Request, caller: Trader) -> DeploymentOut:
    core = core_of(request)
    model = await models.model_by_ref(core.db, caller.actor, body.model_id)
    made = await deployments.deploy(core, caller.actor, DeployRequest(
        model.label, body.ticker, body.interval, body.credential_id, body.timing, body.size, body.stake_amount,
        inputs=body.inputs), confirmed=body.confirm)  # fmt: skip
    return DeploymentOut.of(made)


@router.get("/deployments", summary="Retrieve List Deployed Models", tags=["Model"], response_model=Paged[DeploymentOut])
async def deployed(
    request: Request, caller: Reader, page: PageNumber = 1, limit: Limit = 10,
    ticker: Annotated[str | None, Query(max_length=32)] = None, source: Source = Source.UNKNOWN,
) -> Paged[DeploymentOut]:  # fmt: skip
    market = None if source is Source.UNKNOWN else source.value
    found = await deployments.list_deployments(core_of(request), caller.actor, page, limit, ticker=ticker, market=market)
    return Paged[DeploymentOut].of(found, DeploymentOut.of)


@router.put("/deployments/status", summary="Update Status Deployment", tags=["Model"], response_model=DeploymentOut)
async def update_status(body: UpdateStatus, request: Request, caller: Trader) -> DeploymentOut:
    task = _task_id(body.task_id)
    return DeploymentOut.of(await deployments.update_status(core_of(request), caller.actor, task,
                                                            Action.to_reach(body.status)))  # fmt: skip


@router.delete("/deployments/{task_id}", summary="Delete Deployed Model", tags=["Model"], response_model=DeploymentOut)
async def delete_deployed(task_id: str, request: Request, caller: Trader) -> DeploymentOut:
    return DeploymentOut.of(await deployments.delete_deployment(core_of(request), caller.actor, _task_id(task_id)))


def _task_id(text: str) -> int:
    found = parse_id(text)
    if found is None:
        raise NotFound(f"no deployment #{text[:20]}")
    return found


