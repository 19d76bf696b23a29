/* The wall screen's area style: the map's choropleth, dark outlines, the toured child lit. */
window.onemapWall = {
    areaStyle: function (feature, context) {
        const style = window.onemap.areaStyle(feature, context);
        const selected = ((context && context.hideout) || {}).selected;
        const lit = feature.properties.code === selected;
        style.color = lit ? "#ffffff" : "#0d1b2a";
        style.weight = lit ? 6 : 1;
        style.fillOpacity = lit ? 0.8 : 0.55;
        return style;
    }
};
