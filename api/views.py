"""The JSON API: authorise (api.permissions) → validate (a serializer or the engine)
→ one service or selector call → respond. No rule of the clinic lives here."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import errors, fhir, plans, selectors
from api.permissions import request_staff
from api.renderers import FhirJsonRenderer
from api.serializers import (
    AlertSerializer,
    DetailSerializer,
    DoseSerializer,
    PatientCreateSerializer,
    PatientSerializer,
    PlanCancelRequestSerializer,
    PlanCreateRequestSerializer,
    PlanDetailSerializer,
    PlanJsonSerializer,
    PlanSerializer,
    PreviewRequestSerializer,
)
from api.throttles import PlanPreviewThrottle
from planner import audit, services
from planner.models import AccessAction, Patient, TaperPlan
from reminders.models import AbruptStopAlert, Dose


@csrf_exempt  # it changes nothing and answers 404 to every method
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


class NoStore(APIView):
    """Every answer of an API view carries patient data or says whether it exists:
    `Cache-Control: no-store, private`, so that no browser, proxy or EHR gateway cache
    keeps a copy. tests/api/test_hygiene.py asks every API route for the header."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        finalized = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(finalized, no_store=True, private=True)
        return finalized


class PlanPreview(NoStore):
    changes_nothing = True
    # It runs the engine on every call (api.throttles).
    throttle_classes = [PlanPreviewThrottle]

    @extend_schema(
        request=PreviewRequestSerializer,
        responses={200: PlanJsonSerializer},
        summary="Plan a taper without saving it",
        description="The same input and output as `manage.py taper_plan --format json`.",
    )
    def post(self, request: Request) -> Response:
        try:
            return Response(plans.preview(request.data))
        except plans.PlanRefused as refusal:
            return errors.refused(refusal.errors)


class PatientList(NoStore, generics.GenericAPIView[Patient]):
    serializer_class = PatientSerializer

    def get_queryset(self) -> Any:
        return selectors.clinic_patients(request_staff(self.request))

    @extend_schema(responses={200: PatientSerializer(many=True)}, summary="The clinic's patients")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PatientSerializer(page, many=True).data)

    @extend_schema(
        request=PatientCreateSerializer,
        responses={201: PatientSerializer},
        summary="Add a patient to the caller's clinic",
    )
    def post(self, request: Request) -> Response:
        incoming = PatientCreateSerializer(
            data=request.data, context={"clinic": request_staff(request).clinic}
        )
        incoming.is_valid(raise_exception=True)
        patient = services.patient_create(
            clinic=request_staff(request).clinic, data=incoming.validated_data
        )
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetail(NoStore):
    @extend_schema(responses={200: PatientSerializer}, summary="One patient of the clinic")
    def get(self, request: Request, pk: int) -> Response:
        patient = selectors.clinic_patient(request_staff(request), pk)
        audit.access_record(user=request.user, action=AccessAction.API_READ, patient=patient)
        return Response(PatientSerializer(patient).data)


class PatientPlans(NoStore, generics.GenericAPIView[TaperPlan]):
    serializer_class = PlanSerializer

    @extend_schema(responses={200: PlanSerializer(many=True)}, summary="A patient's plans")
    def get(self, request: Request, pk: int) -> Response:
        patient = selectors.clinic_patient(request_staff(request), pk)
        audit.access_record(user=request.user, action=AccessAction.API_READ, patient=patient)
        plans_of_patient = selectors.clinic_plans(request_staff(request)).filter(patient=patient)
        page = self.paginate_queryset(plans_of_patient)
        return self.get_paginated_response(PlanSerializer(page, many=True).data)

    @extend_schema(
        request=PlanCreateRequestSerializer,
        responses={
            200: PlanDetailSerializer, 201: PlanDetailSerializer, 409: DetailSerializer
        },
        summary="Save a draft plan for a patient",
        description="The regimen as in a preview, without `timezone` and `patient`: they "
        "come from the patient record. Sending a `submission_key` again with the same body "
        "returns the plan it made (200) instead of a second plan; with a different body, "
        "409.",
    )
    def post(self, request: Request, pk: int) -> Response:
        staff = request_staff(request)
        patient = selectors.clinic_patient(staff, pk)
        try:
            engine_input = plans.engine_input_for(patient, request.data)
        except plans.PlanRefused as refusal:
            return errors.refused(refusal.errors)
        key = plans.submission_key_for(patient, _submission_key(request.data))
        plan, created = services.plan_create_once(
            patient=patient, by=staff.user, engine_input=engine_input, submission_key=key
        )
        if not created and not plans.same_request(plan, engine_input):
            return Response(
                {"detail": "This submission_key was already used for a different plan "
                 "request; send a new key for a new plan."},
                status=status.HTTP_409_CONFLICT,
            )
        plan = selectors.clinic_plan(staff, plan.pk)
        return Response(
            PlanDetailSerializer(plan).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _submission_key(data: Any) -> str | None:
    key = data.get("submission_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


class PlanList(NoStore, generics.GenericAPIView[TaperPlan]):
    serializer_class = PlanSerializer

    @extend_schema(responses={200: PlanSerializer(many=True)}, summary="The clinic's plans")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.clinic_plans(request_staff(request)))
        return self.get_paginated_response(PlanSerializer(page, many=True).data)


class PlanDetail(NoStore):
    @extend_schema(responses={200: PlanDetailSerializer}, summary="One plan, with its schedule")
    def get(self, request: Request, pk: int) -> Response:
        plan = selectors.clinic_plan(request_staff(request), pk)
        audit.access_record(
            user=request.user, action=AccessAction.API_READ, patient=plan.patient, plan=plan
        )
        return Response(PlanDetailSerializer(plan).data)


LIFECYCLE_RESPONSES: dict[int, Any] = {
    200: PlanDetailSerializer,
    403: DetailSerializer,
    409: DetailSerializer,
}


class PlanLifecycle(NoStore):
    """A step of the plan's life through the same planner.services function as the plan
    page's button: the service decides, this only maps its refusal to an answer
    (ValidationError → 400 naming the field, PlanStateError → 409, PermissionDenied →
    403; another clinic's plan is not found, 404)."""

    def _act(self, request: Request, pk: int, act: Any) -> Response:
        staff = request_staff(request)
        plan = selectors.clinic_plan(staff, pk)
        try:
            act(plan, staff.user)
        except services.PlanStateError as refusal:
            return Response({"detail": " ".join(refusal.messages)}, status=409)
        except PermissionDenied as refusal:
            return Response(
                {"detail": str(refusal) or "You may not do this to this plan."}, status=403
            )
        except ValidationError as refusal:
            if hasattr(refusal, "error_dict"):
                return errors.refused(refusal.message_dict)
            return errors.refused({errors.ALL: refusal.messages})
        return Response(PlanDetailSerializer(selectors.clinic_plan(staff, pk)).data)


class PlanSubmit(PlanLifecycle):
    @extend_schema(
        request=None,
        responses=LIFECYCLE_RESPONSES,
        summary="Send a draft plan to the review queue",
        description="`planner.services.plan_submit`, as the plan page's button: 409 when "
        "the plan is not a draft or needs no review.",
    )
    def post(self, request: Request, pk: int) -> Response:
        return self._act(request, pk, lambda plan, by: services.plan_submit(plan=plan, by=by))


class PlanActivate(PlanLifecycle):
    @extend_schema(
        request=None,
        responses=LIFECYCLE_RESPONSES,
        summary="Start a plan: its doses and reminders are scheduled",
        description="`planner.services.plan_activate`, as the plan page's button: 409 when "
        "the plan needs a reviewer's approval first or is not in a state to start.",
    )
    def post(self, request: Request, pk: int) -> Response:
        return self._act(request, pk, lambda plan, by: services.plan_activate(plan=plan, by=by))


class PlanCancel(PlanLifecycle):
    @extend_schema(
        request=PlanCancelRequestSerializer,
        responses=LIFECYCLE_RESPONSES,
        summary="Stop a plan, with the reason",
        description="`planner.services.plan_cancel`, as the cancel page: `reason` is "
        "required (400 naming it when missing); stopping an active plan is recorded as an "
        "abrupt stop. 409 when the plan has already ended.",
    )
    def post(self, request: Request, pk: int) -> Response:
        plan = selectors.clinic_plan(request_staff(request), pk)  # 404 before the body
        incoming = PlanCancelRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        reason = incoming.validated_data["reason"]
        return self._act(
            request,
            plan.pk,
            lambda plan, by: services.plan_cancel(plan=plan, by=by, reason=reason),
        )


class PlanDoses(NoStore, generics.GenericAPIView[Dose]):
    serializer_class = DoseSerializer

    @extend_schema(responses={200: DoseSerializer(many=True)}, summary="A plan's dose log")
    def get(self, request: Request, pk: int) -> Response:
        plan = selectors.clinic_plan(request_staff(request), pk)
        page = self.paginate_queryset(selectors.plan_doses(plan))
        audit.access_record(
            user=request.user, action=AccessAction.API_READ, patient=plan.patient, plan=plan
        )
        return self.get_paginated_response(DoseSerializer(page, many=True).data)


class PlanFhir(NoStore):
    # FHIR JSON unless the caller asks for plain JSON (as the 404 of a malformed id is).
    renderer_classes = [FhirJsonRenderer, JSONRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "download",
                OpenApiTypes.BOOL,
                description="Answer as a file to save (Content-Disposition: attachment).",
            )
        ],
        responses={
            200: OpenApiResponse(
                response={"type": "object", "properties": {"resourceType": {"type": "string"}}},
                description="A FHIR R4 Bundle (type collection); docs/api.md has the mapping.",
            )
        },
        summary="The plan as a FHIR R4 Bundle",
    )
    def get(self, request: Request, pk: int) -> Response:
        plan = selectors.clinic_plan(request_staff(request), pk)
        bundle = fhir.plan_bundle(selectors.plan_export(plan))
        audit.access_record(
            user=request.user, action=AccessAction.FHIR_EXPORT, patient=plan.patient, plan=plan
        )
        response = Response(bundle)
        if request.query_params.get("download") in ("1", "true", "True"):
            response["Content-Disposition"] = (
                f'attachment; filename="taper-plan-{plan.pk}.fhir.json"'
            )
        return response


class AlertList(NoStore, generics.GenericAPIView[AbruptStopAlert]):
    serializer_class = AlertSerializer

    @extend_schema(
        responses={200: AlertSerializer(many=True)}, summary="The clinic's open abrupt-stop alerts"
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.open_alerts(request_staff(request)))
        return self.get_paginated_response(AlertSerializer(page, many=True).data)
