from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ErrorSerializer
from core.ids import PUBLIC_ID_PATTERN
from delivery import selectors, services
from delivery.api.serializers import ShipmentSerializer, ShipSerializer
from delivery.models import Shipment, ShipmentStatus
from delivery.permissions import IsDeliveryClerk


class ShipmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ShipmentStatus.choices)
    order_id = django_filters.CharFilter()

    class Meta:
        model = Shipment
        fields = ["status", "order_id"]


class NotShippedYet(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This shipment has not been shipped yet; mark it shipped first."
    default_code = "not_shipped"


class Cancelled(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This shipment was cancelled; it is neither shipped nor delivered."
    default_code = "cancelled"


@extend_schema_view(
    list=extend_schema(responses={200: ShipmentSerializer(many=True), 400: ErrorSerializer, 403: ErrorSerializer}),
    retrieve=extend_schema(responses={200: ShipmentSerializer, 403: ErrorSerializer, 404: ErrorSerializer}),
    ship=extend_schema(
        request=ShipSerializer,
        responses={
            200: ShipmentSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    ),
    deliver=extend_schema(
        request=None,
        responses={200: ShipmentSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    ),
)
class ShipmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ShipmentSerializer
    permission_classes = [IsDeliveryClerk]
    filterset_class = ShipmentFilter
    lookup_value_regex = PUBLIC_ID_PATTERN

    def get_queryset(self) -> Any:
        return selectors.shipment_list()

    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        shipment = self.get_object()
        body = ShipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            change = services.shipment_mark_shipped(
                shipment_id=shipment.pk, tracking_number=body.validated_data.get("tracking_number")
            )
        except services.ShipmentCancelled as exc:
            raise Cancelled() from exc
        return Response(ShipmentSerializer(change.shipment).data)

    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, pk: str) -> Response:
        shipment = self.get_object()
        try:
            change = services.shipment_mark_delivered(shipment_id=shipment.pk)
        except services.ShipmentNotShipped as exc:
            raise NotShippedYet() from exc
        except services.ShipmentCancelled as exc:
            raise Cancelled() from exc
        return Response(ShipmentSerializer(change.shipment).data)
